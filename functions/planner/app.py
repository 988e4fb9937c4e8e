"""PlannerFunction: the training state machine's own steps (plan a run's engine, verify its outcome, fail a
run whose executor stopped): ``dummi.training.orchestration``. Reads Postgres; fits and publishes nothing."""

from aws_lambda_powertools import Logger

from dummi.training.orchestration import handle_step

logger = Logger()


@logger.inject_lambda_context(clear_state=True)
def handler(event, context):
    done = handle_step(event)
    logger.info(
        "training step", extra={"action": event.get("action"), **{k: v for k, v in done.items() if k != "plan"}}
    )
    return done
