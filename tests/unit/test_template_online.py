"""template.yaml's online loop: the hourly metrics function, the alarms on the metric names the code emits,
and a dashboard whose body is valid JSON naming those metrics."""

from __future__ import annotations

import json
import re
from pathlib import Path

from tests.conftest import read_template

ROOT = Path(__file__).resolve().parents[2]


def _dashboard_body() -> dict:
    text = (ROOT / "template.yaml").read_text()
    block = text.split("DashboardBody: !Sub |\n", 1)[1]
    lines = []
    for line in block.splitlines():
        if line.strip() and not line.startswith(" " * 8):
            break
        lines.append(line[8:])
    return json.loads(re.sub(r"\$\{[A-Za-z:]+\}", "x", "\n".join(lines)))


def test_the_metrics_function_runs_hourly():
    fn = read_template()["Resources"]["MetricsFunction"]["Properties"]
    assert fn["CodeUri"] == "functions/metrics/" and fn["Timeout"] == 900
    schedule = fn["Events"]["Hourly"]
    assert schedule["Type"] == "ScheduleV2" and schedule["Properties"]["ScheduleExpression"] == "cron(5 * * * ? *)"


def test_alarms_watch_the_metrics_the_code_emits():
    resources = read_template()["Resources"]
    alarms = {
        r["Properties"]["MetricName"]: r["Properties"]
        for r in resources.values()
        if r["Type"] == "AWS::CloudWatch::Alarm"
    }
    assert set(alarms) == {"CtrVsBaseline", "ImpressionWriteFailures", "SampleRatioMismatches"}
    assert (
        alarms["CtrVsBaseline"]["Threshold"] == 0.8
        and alarms["CtrVsBaseline"]["ComparisonOperator"] == "LessThanThreshold"
    )
    sources = {
        "CtrVsBaseline": "shared/dummi/services/online_metrics_service.py",
        "SampleRatioMismatches": "shared/dummi/services/online_metrics_service.py",
        "ImpressionWriteFailures": "shared/dummi/services/impressions_service.py",
    }
    for name, path in sources.items():
        assert f'"{name}"' in (ROOT / path).read_text(), f"{name} is not emitted by {path}"
        service = alarms[name]["Dimensions"][0]["Value"]
        assert service in {"metrics", "recommendations"}


def test_the_dashboard_is_valid_json_over_the_emitted_metrics():
    body = json.dumps(_dashboard_body())
    for name in ("Clicks", "Impressions", "DiversitySum", "DiversityLists", "NoveltySum", "CtrVsBaseline"):
        assert name in body
    assert "user" not in body.lower().replace("usersreached", "")
