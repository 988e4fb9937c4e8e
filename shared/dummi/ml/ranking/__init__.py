"""The ranking pipeline serving runs (numpy + FAISS, no torch): types, settings, the item space, the user's
profile, the eligibility mask, candidate sources, scorers, calibration, re-rankers, explanations,
exploration slots and the non-personal lists. ``dummi.ml.recommender.HybridRecommender`` puts them
together for one model."""
