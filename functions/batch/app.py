"""BatchFunction: POST /batch-jobs, GET /batch-jobs, GET /batch-jobs/{job_id}, POST /batch-jobs/{job_id}/resume
(admin), and the SQS messages that carry a job's steps (split, chunk, assemble). The model is loaded on first
use and kept across invocations, as in the recommendations function."""

from aws_lambda_powertools.utilities.batch import BatchProcessor, EventType, process_partial_response

from dummi.api import batch
from dummi.api.app import create_app
from dummi.batch.dispatch import handle_sqs_body
from dummi.lambda_handler import make_handler

app = create_app([batch.router])
processor = BatchProcessor(event_type=EventType.SQS)


def _steps(event, context):
    """A failed step is reported as a batch item failure: SQS delivers it again, then to the dead-letter queue
    (a resume sends it anew); the steps that succeeded are not repeated."""
    return process_partial_response(
        event=event, record_handler=lambda record: handle_sqs_body(record.body), processor=processor, context=context
    )


handler = make_handler(app, other_events=_steps)
