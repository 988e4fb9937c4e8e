"""Which recommender serves a user in an experiment: the variant's, built once per model and catalog from the
serving one, or the serving one itself when the variant changes no model setting."""

from __future__ import annotations

from dataclasses import dataclass

from dummi.ml.recommender import HybridRecommender, RankRequest
from dummi.services.experiments_service import ExperimentCache


@dataclass(frozen=True)
class Chosen:
    """What serves one request: the recommender, the request as the variant changes it, and the experiment and
    variant (None, None: the default)."""

    recommender: HybridRecommender
    request: RankRequest
    experiment: str | None = None
    variant: str | None = None


class ExperimentVariants:
    """The live experiments' variant recommenders (keyed by experiment and variant name)."""

    def __init__(self, experiments: ExperimentCache) -> None:
        self.experiments = experiments
        # (experiment, variant) -> (the serving recommender it was built on, the variant's recommender)
        self.built: dict[tuple[str, str], tuple[HybridRecommender, HybridRecommender]] = {}

    def choose(self, user_id: str, base: HybridRecommender, request: RankRequest) -> Chosen:
        """The variant the user is assigned to, or the default when the user is in no experiment or the
        model lacks the variant's algorithm (the next training adds it)."""
        found = self.experiments.assignment(user_id)
        if found is None:
            return Chosen(base, request)
        assignment, overrides = found
        experiment, variant = assignment.experiment, assignment.variant.name
        if not self._complete(base, experiment):
            return Chosen(base, request)
        if not overrides.changes_model:
            recommender = base
        else:
            built_on, recommender = self.built.get((experiment, variant), (None, None))
            if built_on is not base:  # none yet, or built for an earlier model or catalog
                recommender = base.variant(overrides.settings, base.bundle.cf_for(overrides.algorithm)[1])
                self.built[(experiment, variant)] = (base, recommender)
        return Chosen(recommender, overrides.apply(request), experiment, variant)

    def _complete(self, base: HybridRecommender, experiment: str) -> bool:
        """False when the model lacks a CF algorithm one of the experiment's variants names: then nobody in
        that experiment gets a variant, so that its arms stay comparable (the next training publishes it)."""
        for e in self.experiments.experiments():
            if e.name == experiment and any(
                not base.bundle.cf_for(v.overrides.get("algorithm"))[0] for v in e.variants
            ):
                return False
        return True
