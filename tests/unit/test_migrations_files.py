from dummi.db.migrations import available_migrations


def test_migrations_are_numbered_in_order_and_packaged():
    migrations = available_migrations()
    assert migrations, "no migrations shipped with the package"
    versions = [m.version for m in migrations]
    assert versions == sorted(set(versions))
    assert versions[0] == 1
    assert "CREATE TABLE users" in migrations[0].sql
