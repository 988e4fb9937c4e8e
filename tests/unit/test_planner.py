"""The planner: which engine a run uses, from the cost model of the in-process path and the limits where it
would run (pure: every input is an argument)."""

from __future__ import annotations

from dummi.training.params import TrainingParams
from dummi.training.planner import COST_MODEL, choose_engine

LAMBDA = {"seconds": 720.0, "memory_mb": 8192.0}
EMR = (True, "EMR Serverless")
SMALL = {"events": 70_000, "items": 10_000, "users": 625, "texts_to_embed": 0, "text_chars": 0}
LARGE = {"events": 100_000_000, "items": 1_000_000, "users": 10_000_000, "texts_to_embed": 0, "text_chars": 0}


def test_a_catalog_that_fits_the_training_function_trains_in_process():
    plan = choose_engine(TrainingParams(), SMALL, LAMBDA, EMR)
    assert plan["engine"] == "local" and plan["reason"].startswith("fits in process")
    assert plan["prediction"]["seconds"] < LAMBDA["seconds"] and plan["prediction"]["memory_mb"] < LAMBDA["memory_mb"]
    assert plan["counts"] == SMALL and plan["limits"] == LAMBDA


def test_a_catalog_past_the_function_s_time_or_memory_goes_to_spark_and_says_why():
    plan = choose_engine(TrainingParams(), LARGE, LAMBDA, EMR)
    assert plan["engine"] == "spark"
    assert "s predicted in process, 720 s allowed" in plan["reason"] and "MB allowed" in plan["reason"]
    assert plan["reason"].endswith("Spark (EMR Serverless)")
    # memory alone decides too: a long, thin catalog within the time budget
    slow = {**SMALL, "events": 2_000_000, "items": 10_000}
    assert choose_engine(TrainingParams(), slow, {"seconds": None, "memory_mb": 500.0}, EMR)["engine"] == "spark"


def test_without_a_spark_engine_a_large_run_stays_in_process_and_the_plan_says_so():
    plan = choose_engine(TrainingParams(), LARGE, LAMBDA, (False, "pyspark is not installed"))
    assert plan["engine"] == "local" and plan["reason"].endswith("but no Spark engine here: pyspark is not installed")


def test_a_run_that_asks_for_an_engine_gets_it_whatever_the_prediction():
    assert choose_engine(TrainingParams(engine="spark"), SMALL, LAMBDA, EMR)["engine"] == "spark"
    pinned = choose_engine(TrainingParams(engine="local"), LARGE, LAMBDA, EMR)
    assert pinned["engine"] == "local" and pinned["reason"] == "the run asked for the local engine"
    assert pinned["prediction"]["seconds"] > LAMBDA["seconds"]  # still predicted, for the record


def test_the_cost_model_grows_with_what_drives_each_part():
    base = COST_MODEL.predict(SMALL)
    more_events = COST_MODEL.predict({**SMALL, "events": 10 * SMALL["events"]})
    more_text = COST_MODEL.predict({**SMALL, "text_chars": 5_000_000})
    assert more_events["seconds"] > base["seconds"] and more_events["memory_mb"] > base["memory_mb"]
    assert more_text["parts"]["embed"] > 0 == base["parts"]["embed"]
    # past the item-item models' size the EASE inverses leave the prediction (the factorizations take over)
    assert COST_MODEL.predict({**SMALL, "items": 20_000})["parts"]["choice"] < base["parts"]["choice"]
