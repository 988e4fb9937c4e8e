"""TrainingFunction: POST /training/train, GET /training/status, the EventBridge schedule, and the
asynchronous run that POST hands to it. EmbeddingFunction (same image): SQS messages asking for embeddings."""

from aws_lambda_powertools import Logger
from aws_lambda_powertools.utilities.batch import BatchProcessor, EventType, process_partial_response

from dummi.api import training
from dummi.api.app import create_app
from dummi.lambda_handler import make_handler
from dummi.training_events import handle_embedding_message, handle_event

app = create_app([training.router])
handler = make_handler(app, other_events=handle_event)

logger = Logger()
processor = BatchProcessor(event_type=EventType.SQS)


@logger.inject_lambda_context(clear_state=True)
def embedding_handler(event, context):
    return process_partial_response(
        event=event,
        record_handler=lambda record: handle_embedding_message(record.body),
        processor=processor,
        context=context,
    )
