//! The TimescaleDB migrations cannot run here (no TimescaleDB on this machine), so they are
//! checked as far as plain PostgreSQL allows: every statement runs, inside a transaction that
//! is rolled back, in a schema holding the plain tables, against stub functions standing in
//! for the Timescale API. The stubs check what TimescaleDB would refuse (a missing table or
//! column, a time column missing from a unique index, an interval of the wrong type, a "now"
//! function that is volatile or of another type) and record each call. The only error
//! allowed is PostgreSQL refusing the `timescaledb.*` storage parameters (compression
//! settings, `timescaledb.continuous`); the continuous aggregate's query then runs as a plain
//! materialized view, so its columns and functions are checked too.

mod postgres_support;

use plantkeeper_store::postgres::{timescale_migration_sql, timescale_retention_sql};
use plantkeeper_store::{Retention, Store};
use postgres_support::{TestSchema, admin_client, open_in};

/// Stand-ins for the Timescale API functions the migrations call (same parameter names, so
/// named arguments are checked), each recording its call in `pg_temp.timescale_calls`.
const STUBS: &str = r#"
CREATE TEMP TABLE timescale_calls (call text NOT NULL);

CREATE FUNCTION create_hypertable(relation regclass, time_column_name name,
        chunk_time_interval anyelement, migrate_data boolean DEFAULT false)
RETURNS void LANGUAGE plpgsql AS $$
DECLARE column_type regtype; column_number smallint;
BEGIN
    SELECT atttypid::regtype, attnum INTO column_type, column_number FROM pg_attribute
        WHERE attrelid = relation AND attname = time_column_name AND NOT attisdropped;
    IF column_type IS NULL THEN
        RAISE EXCEPTION 'stub: % has no column %', relation, time_column_name;
    END IF;
    IF column_type <> pg_typeof(chunk_time_interval) THEN
        RAISE EXCEPTION 'stub: chunk_time_interval of % must be %, not %',
            relation, column_type, pg_typeof(chunk_time_interval);
    END IF;
    IF EXISTS (SELECT 1 FROM pg_index WHERE indrelid = relation AND indisunique
               AND NOT column_number = ANY (indkey)) THEN
        RAISE EXCEPTION 'stub: a unique index of % lacks the time column %',
            relation, time_column_name;
    END IF;
    INSERT INTO pg_temp.timescale_calls VALUES (format('create_hypertable %s', relation));
END $$;

CREATE FUNCTION set_integer_now_func(hypertable regclass, integer_now_func regproc,
        replace_if_exists boolean DEFAULT false)
RETURNS void LANGUAGE plpgsql AS $$
BEGIN
    IF NOT EXISTS (SELECT 1 FROM pg_proc WHERE oid = integer_now_func
                   AND provolatile <> 'v' AND prorettype = 'bigint'::regtype AND pronargs = 0) THEN
        RAISE EXCEPTION 'stub: % is not a stable bigint function without arguments',
            integer_now_func;
    END IF;
    INSERT INTO pg_temp.timescale_calls VALUES (format('set_integer_now_func %s', hypertable));
END $$;

CREATE FUNCTION add_compression_policy(hypertable regclass, compress_after anyelement)
RETURNS integer LANGUAGE plpgsql AS $$
BEGIN
    IF pg_typeof(compress_after) <> 'bigint'::regtype THEN
        RAISE EXCEPTION 'stub: compress_after must be bigint milliseconds';
    END IF;
    INSERT INTO pg_temp.timescale_calls VALUES (format('add_compression_policy %s', hypertable));
    RETURN 1;
END $$;

CREATE FUNCTION add_retention_policy(relation regclass, drop_after anyelement)
RETURNS integer LANGUAGE plpgsql AS $$
BEGIN
    IF pg_typeof(drop_after) <> 'bigint'::regtype THEN
        RAISE EXCEPTION 'stub: drop_after must be bigint milliseconds';
    END IF;
    INSERT INTO pg_temp.timescale_calls VALUES (format('add_retention_policy %s', relation));
    RETURN 1;
END $$;

CREATE FUNCTION remove_retention_policy(relation regclass, if_exists boolean DEFAULT false)
RETURNS void LANGUAGE plpgsql AS $$
BEGIN
    IF NOT if_exists AND NOT EXISTS (SELECT 1 FROM pg_temp.timescale_calls
            WHERE call = format('add_retention_policy %s', relation)) THEN
        RAISE EXCEPTION 'stub: % has no retention policy', relation;
    END IF;
    INSERT INTO pg_temp.timescale_calls VALUES (format('remove_retention_policy %s', relation));
END $$;

CREATE FUNCTION time_bucket(bucket_width bigint, ts bigint) RETURNS bigint
LANGUAGE sql IMMUTABLE RETURN ts - ((ts % bucket_width) + bucket_width) % bucket_width;

CREATE FUNCTION add_continuous_aggregate_policy(continuous_aggregate regclass,
        start_offset anyelement, end_offset anyelement, schedule_interval interval)
RETURNS integer LANGUAGE plpgsql AS $$
BEGIN
    IF start_offset <= end_offset THEN
        RAISE EXCEPTION 'stub: start_offset must be older than end_offset';
    END IF;
    INSERT INTO pg_temp.timescale_calls
        VALUES (format('add_continuous_aggregate_policy %s', continuous_aggregate));
    RETURN 1;
END $$;
"#;

/// The statements of a migration file: comment lines dropped, one statement per line ending
/// in `;` (the files' documented layout).
fn statements(sql: &str) -> Vec<String> {
    let mut statements = Vec::new();
    let mut current = String::new();
    for line in sql.lines().map(str::trim) {
        if line.is_empty() || line.starts_with("--") {
            continue;
        }
        current.push_str(line);
        current.push('\n');
        if line.ends_with(';') {
            statements.push(std::mem::take(&mut current));
        }
    }
    assert!(
        current.trim().is_empty(),
        "a statement does not end with `;`: {current}"
    );
    statements
}

// Multi-threaded, so that if an assertion fails the connection task still runs the rollback
// while the schema guard drops the schema.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn timescale_migrations_run_on_plain_postgresql_against_stubs_of_the_timescale_api() {
    let Some(schema) = TestSchema::create().await else {
        return;
    };
    // The plain migrations, as the store applies them before the Timescale ones.
    open_in(&schema).await.close().await.expect("closing");

    let mut client = admin_client().await;
    client
        .batch_execute(&format!("SET search_path = {}, public", schema.name()))
        .await
        .expect("using the test schema");
    let mut transaction = client.transaction().await.expect("beginning");
    transaction
        .batch_execute(STUBS)
        .await
        .expect("creating the Timescale API stubs");

    let migrations = timescale_migration_sql();
    let names: Vec<&str> = migrations.iter().map(|(name, _)| name.as_str()).collect();
    assert_eq!(
        names,
        [
            "V1__hypertables",
            "V2__compression_retention_hourly",
            "V3__rollup_hypertable"
        ],
        "the Timescale migrations, in order"
    );
    let mut refused_parameters = Vec::new();
    for (name, sql) in &migrations {
        for statement in statements(sql) {
            let savepoint = transaction.savepoint("statement").await.expect("savepoint");
            match savepoint.batch_execute(&statement).await {
                Ok(()) => savepoint.commit().await.expect("releasing"),
                Err(error) => {
                    let refused_parameter = error.as_db_error().is_some_and(|db| {
                        db.code().code() == "22023"
                            && db.message() == "unrecognized parameter namespace \"timescaledb\""
                    });
                    assert!(
                        refused_parameter,
                        "{name}: only Timescale's storage parameters may fail here, \
                         but `{statement}` failed with: {:?}",
                        error.as_db_error().map(|db| db.message().to_owned())
                    );
                    savepoint.rollback().await.expect("rolling back");
                    refused_parameters.push(statement.clone());
                    if statement.starts_with("CREATE MATERIALIZED VIEW") {
                        let plain = statement.replace(" WITH (timescaledb.continuous)", "");
                        transaction
                            .batch_execute(&plain)
                            .await
                            .unwrap_or_else(|error| {
                                panic!("{name}: the continuous aggregate's query fails: {error:?}")
                            });
                    }
                }
            }
        }
    }
    // The retention policies the store sets at every start, after the migrations.
    for statement in timescale_retention_sql(Retention::default()) {
        transaction
            .batch_execute(&statement)
            .await
            .unwrap_or_else(|error| panic!("`{statement}` fails: {error:?}"));
    }
    let with_timescale_parameters: Vec<String> = migrations
        .iter()
        .flat_map(|(_, sql)| statements(sql))
        .filter(|statement| statement.contains("(timescaledb."))
        .collect();
    assert_eq!(
        refused_parameters.len(),
        3,
        "two compression settings and the continuous aggregate were refused: {refused_parameters:?}"
    );
    assert_eq!(
        refused_parameters, with_timescale_parameters,
        "exactly the statements with timescaledb.* parameters were refused"
    );

    let calls: Vec<String> = transaction
        .query("SELECT call FROM pg_temp.timescale_calls", &[])
        .await
        .expect("reading the recorded calls")
        .iter()
        .map(|row| row.get(0))
        .collect();
    assert_eq!(
        calls,
        [
            "create_hypertable readings",
            "set_integer_now_func readings",
            "create_hypertable state_changes",
            "set_integer_now_func state_changes",
            "add_compression_policy readings",
            "add_compression_policy state_changes",
            "add_retention_policy readings",
            "add_continuous_aggregate_policy readings_hourly",
            "create_hypertable readings_rollup",
            "set_integer_now_func readings_rollup",
            "remove_retention_policy readings",
            "add_retention_policy readings",
            "remove_retention_policy readings_rollup",
            "add_retention_policy readings_rollup",
        ],
        "every Timescale call ran, in order, with arguments the stubs accept"
    );
    transaction.rollback().await.expect("rolling back");

    // The rolled-back transaction left the plain schema as it was.
    let store = open_in(&schema).await;
    assert_eq!(
        store.begin_epoch().await.expect("epoch"),
        1,
        "the store still opens"
    );
    store.close().await.expect("closing");
}
