"""A batch job's options: light (no numpy), so that the API's routers can validate them anywhere."""

from __future__ import annotations

from typing import TYPE_CHECKING

from pydantic import Field, StrictBool

from dummi.domain.inputs import Category, Filters, StrictFloat, StrictModel, WholeNumber, bounded_whole, conditions
from dummi.domain.ranking import RankRequest

if TYPE_CHECKING:
    from dummi.domain.ranking import RankRequest

MAX_RESULTS = 100


class BatchOptions(StrictModel):
    """What every line of a job is asked with (the fields of POST /recommendations/ that are not per user)."""

    num_results: WholeNumber = Field(default=10, ge=1, le=MAX_RESULTS, description="items a line")
    use_cf: StrictBool = True
    use_embeddings: StrictBool = True
    cf_weight: StrictFloat = Field(default=0.5, ge=0.0, le=1.0)
    category: Category | None = None
    filters: Filters = []
    diversity: StrictFloat | None = Field(default=None, ge=0.0, le=1.0)
    max_per_category: bounded_whole(1, MAX_RESULTS, "at most this many items of one category") | None = None

    def rank_request(self) -> RankRequest:
        return RankRequest(
            n=self.num_results,
            use_cf=self.use_cf,
            use_embeddings=self.use_embeddings,
            cf_weight=self.cf_weight,
            category=self.category,
            diversity=self.diversity,
            max_per_category=self.max_per_category,
            explore_slots=0,
            filters=conditions(self.filters),
        )
