-- Batch recommendation jobs (dummi.batch): the input is split into chunks under the artifact store; each chunk
-- is answered once into its own output object and recorded here, so a job that stops half-way resumes with the
-- chunks it lacks; the last chunk's worker assembles the output.
CREATE TABLE batch_jobs (
    job_id text PRIMARY KEY,
    state text NOT NULL DEFAULT 'queued' CHECK (state IN ('queued', 'running', 'assembling', 'succeeded', 'failed')),
    input_key text NOT NULL,
    output_key text NOT NULL,
    options jsonb NOT NULL,
    chunk_size integer NOT NULL CHECK (chunk_size > 0),
    chunks_total integer,
    lines_total integer,
    error text,
    created_at timestamptz NOT NULL DEFAULT now(),
    started_at timestamptz,
    finished_at timestamptz,
    updated_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX batch_jobs_created ON batch_jobs (created_at DESC);

CREATE TABLE batch_job_chunks (
    job_id text NOT NULL REFERENCES batch_jobs (job_id) ON DELETE CASCADE,
    chunk integer NOT NULL,
    lines integer NOT NULL,
    errors integer NOT NULL,
    model_versions text[] NOT NULL,
    seconds double precision NOT NULL,
    finished_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (job_id, chunk)
);
