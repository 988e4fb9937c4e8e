-- Training runs as named stages on an engine: where the run ran (local: in one process, spark: the Spark
-- engine), the planner's choice of engine with its reasons, and each stage's timing in the order it ran
-- (timings keeps the by-name view; jsonb does not keep key order).
ALTER TABLE training_runs ADD COLUMN engine text CHECK (engine IN ('local', 'spark'));
ALTER TABLE training_runs ADD COLUMN plan jsonb;
ALTER TABLE training_runs ADD COLUMN stages jsonb NOT NULL DEFAULT '[]'::jsonb;
