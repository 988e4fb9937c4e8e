import ssl

import pytest

from dummi.db.urls import parse_database_url, url_from_secret


def test_parse_database_url_tcp_with_password_and_port():
    params = parse_database_url("postgresql://app:s%40cret@db.example.com:6543/dummi")
    assert params.kwargs() == {
        "user": "app",
        "password": "s@cret",
        "database": "dummi",
        "host": "db.example.com",
        "port": 6543,
    }


def test_parse_database_url_unix_socket_from_host_query():
    params = parse_database_url("postgresql://postgres:@/dummi?host=/tmp/pg")
    kwargs = params.kwargs()
    assert kwargs["unix_sock"] == "/tmp/pg/.s.PGSQL.5432"
    assert "host" not in kwargs and kwargs["database"] == "dummi" and kwargs["password"] is None


@pytest.mark.parametrize(("mode", "verifies"), [("require", False), ("verify-full", True)])
def test_parse_database_url_sslmode_builds_a_context(mode, verifies):
    kwargs = parse_database_url(f"postgresql://u:p@h/d?sslmode={mode}").kwargs()
    context = kwargs["ssl_context"]
    assert isinstance(context, ssl.SSLContext)
    assert context.check_hostname is verifies


def test_parse_database_url_rejects_other_schemes():
    with pytest.raises(ValueError, match="scheme"):
        parse_database_url("mysql://u:p@h/d")


def test_url_from_secret_quotes_credentials_and_round_trips():
    url = url_from_secret(
        {"username": "app", "password": "p@ss/w:rd", "host": "db.internal", "port": 5432, "dbname": "dummi"}
    )
    params = parse_database_url(url)
    assert (params.user, params.password, params.host, params.database) == ("app", "p@ss/w:rd", "db.internal", "dummi")
    assert params.ssl_mode == "require"


def test_pg_dump_gets_the_password_in_its_environment_not_on_its_command_line():
    from dummi.db.dump import libpq_target

    target, env = libpq_target("postgresql://dummi:p%40ss%2Fw@db.example.com:5433/dummi?sslmode=require")
    assert target == "postgresql://dummi@db.example.com:5433/dummi?sslmode=require" and env["PGPASSWORD"] == "p@ss/w"
    socket, env = libpq_target("postgresql://postgres:@/dummi?host=/tmp/pg")
    assert socket == "postgresql://postgres@/dummi?host=/tmp/pg" and env["PGPASSWORD"] == ""
