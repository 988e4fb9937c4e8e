"""HTTP layer: schemas, error mapping and one router per resource."""
