"""Machine learning: embeddings, vector index, collaborative filtering. Nothing here imports torch unless a
caller asks for the sentence-transformers backend by name."""
