"""MetricsFunction: the hourly online metrics job (EventBridge Scheduler). Recomputes the open days' figures
in Postgres, deletes impressions past retention, and sends the figures to CloudWatch as EMF."""

from aws_lambda_powertools import Logger

from dummi.db.connection import get_database
from dummi.services import online_metrics_service

logger = Logger()


@logger.inject_lambda_context(clear_state=True)
def handler(event, context):
    done = online_metrics_service.run(get_database())
    logger.info("online metrics computed", extra=done)
    return done
