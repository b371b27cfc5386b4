//! `check` must reject every kind of mistake with its own positioned message: the exact line,
//! column (1-based, characters) and field, and a message that says what would be right.

use plantkeeper_control::load::{ConfigError, load_settings};

/// A small valid config; each case below changes one thing in it.
const BASE: &str = r#"[master]
timezone = "Europe/Paris"
latitude = 48.85
longitude = 2.35

[nodes.bed-1]
token = "bed-1-test-token-0001"
sensors.soil_moisture = { min = 0, max = 100, unit = "%" }

[nodes.bed-1.outputs.valve]
on_when = "soil_moisture < 30"
off_when = "soil_moisture >= 45"

[nodes.tank]
token = "tank-test-token-00001"
[nodes.tank.outputs.pump]
on_when = "bed-1.valve"
"#;

const VALVE_OFF_WHEN: &str = "off_when = \"soil_moisture >= 45\"";
const PUMP_ON_WHEN: &str = "on_when = \"bed-1.valve\"";

/// One broken variant of [`BASE`] and the single error it must produce.
struct Case {
    name: &'static str,
    replace: &'static str,
    with: String,
    line: usize,
    column: usize,
    field: &'static str,
    message: &'static str,
}

fn case(
    name: &'static str,
    replace: &'static str,
    with: impl Into<String>,
    (line, column): (usize, usize),
    field: &'static str,
    message: &'static str,
) -> Case {
    Case {
        name,
        replace,
        with: with.into(),
        line,
        column,
        field,
        message,
    }
}

/// Adds lines after the valve's `off_when` (line 12), so the first added line is line 13.
fn valve_lines(lines: &str) -> String {
    format!("{VALVE_OFF_WHEN}\n{lines}")
}

/// Adds lines at the end of the file, so the first added line is line 18.
const END: &str = "on_when = \"bed-1.valve\"\n";

fn at_end(lines: &str) -> String {
    format!("{END}{lines}")
}

fn cases() -> Vec<Case> {
    vec![
        // Unknown keys, with a suggestion when a known key is close.
        case(
            "typo in an output key",
            VALVE_OFF_WHEN,
            valve_lines("max_onn = \"2m\""),
            (13, 1),
            "nodes.bed-1.outputs.valve.max_onn",
            "unknown key `max_onn`; did you mean `max_on`?",
        ),
        case(
            "typo in a master key",
            "timezone =",
            "timezon =",
            (2, 1),
            "master.timezon",
            "did you mean `timezone`?",
        ),
        case(
            "typo in a section name",
            END,
            at_end("[default]\nlease = \"15s\""),
            (18, 2),
            "default",
            "unknown key `default`; did you mean `defaults`?",
        ),
        case(
            "output key in the node table",
            "sensors.soil",
            "on_when = \"soil_moisture < 20\"\nsensors.soil",
            (8, 1),
            "nodes.bed-1.on_when",
            "belongs to an output",
        ),
        case(
            "unknown sensor key",
            "unit = \"%\"",
            "units = \"%\"",
            (8, 47),
            "nodes.bed-1.sensors.soil_moisture.units",
            "did you mean `unit`?",
        ),
        // Wrong types and bad durations.
        case(
            "integer where a duration is expected",
            VALVE_OFF_WHEN,
            valve_lines("max_on = 15"),
            (13, 10),
            "nodes.bed-1.outputs.valve.max_on",
            "expected a duration string like `15s`, got integer 15",
        ),
        case(
            "float where a duration is expected",
            VALVE_OFF_WHEN,
            valve_lines("max_on = 1.5"),
            (13, 10),
            "nodes.bed-1.outputs.valve.max_on",
            "got float 1.5",
        ),
        case(
            "duration without unit",
            VALVE_OFF_WHEN,
            valve_lines("max_on = \"15\""),
            (13, 10),
            "nodes.bed-1.outputs.valve.max_on",
            "expected a duration like `15s` or `1h30m`, got `15`",
        ),
        case(
            "zero duration",
            VALVE_OFF_WHEN,
            valve_lines("min_off = \"0s\""),
            (13, 11),
            "nodes.bed-1.outputs.valve.min_off",
            "must be positive",
        ),
        case(
            "duration over its limit",
            VALVE_OFF_WHEN,
            valve_lines("max_on = \"25h\""),
            (13, 10),
            "nodes.bed-1.outputs.valve.max_on",
            "must be at most 24h",
        ),
        case(
            "require given as a string",
            VALVE_OFF_WHEN,
            valve_lines("require = \"tank.level >= 20\""),
            (13, 11),
            "nodes.bed-1.outputs.valve.require",
            "expected an array of conditions",
        ),
        case(
            "min_on longer than max_on",
            VALVE_OFF_WHEN,
            valve_lines("max_on = \"1m\"\nmin_on = \"2m\""),
            (14, 10),
            "nodes.bed-1.outputs.valve.min_on",
            "`min_on` (2m) must not exceed `max_on` (1m)",
        ),
        // Timing rules.
        case(
            "lease shorter than report_every in defaults",
            END,
            at_end("[defaults]\nreport_every = \"10s\"\nlease = \"5s\"\nstale_after = \"30s\""),
            (20, 9),
            "defaults.lease",
            "`lease` (5s) must be at least `report_every` (10s)",
        ),
        case(
            "node lease shorter than report_every",
            "token = \"bed-1-test-token-0001\"",
            "token = \"bed-1-test-token-0001\"\nlease = \"2s\"",
            (8, 9),
            "nodes.bed-1.lease",
            "must be at least `report_every` (5s)",
        ),
        case(
            "lease below one second",
            "token = \"bed-1-test-token-0001\"",
            "token = \"bed-1-test-token-0001\"\nlease = \"500ms\"",
            (8, 9),
            "nodes.bed-1.lease",
            "must be at least 1s",
        ),
        case(
            "stale_after shorter than report_every",
            "token = \"bed-1-test-token-0001\"",
            "token = \"bed-1-test-token-0001\"\nstale_after = \"1s\"",
            (8, 15),
            "nodes.bed-1.stale_after",
            "every reading would be stale",
        ),
        // Windows.
        case(
            "window with an hour past 24",
            VALVE_OFF_WHEN,
            valve_lines("schedule = [\"06:00-25:00\"]"),
            (13, 20),
            "nodes.bed-1.outputs.valve.schedule[0]",
            "expected a 24-hour time like `06:00`",
        ),
        case(
            "window with an unknown day",
            VALVE_OFF_WHEN,
            valve_lines("schedule = [\"06:00-07:00\", \"mon-fry 06:00-07:00\"]"),
            (13, 33),
            "nodes.bed-1.outputs.valve.schedule[1]",
            "unknown day `fry`",
        ),
        case(
            "window starting where it ends",
            VALVE_OFF_WHEN,
            valve_lines("schedule = [\"06:00-06:00\"]"),
            (13, 14),
            "nodes.bed-1.outputs.valve.schedule[0]",
            "starts and ends at the same time",
        ),
        case(
            "empty schedule",
            VALVE_OFF_WHEN,
            valve_lines("schedule = []"),
            (13, 12),
            "nodes.bed-1.outputs.valve.schedule",
            "empty schedule",
        ),
        // Location.
        case(
            "latitude without longitude",
            "longitude = 2.35",
            "",
            (3, 12),
            "master.latitude",
            "`latitude` needs `longitude` too",
        ),
        case(
            "latitude out of range",
            "latitude = 48.85",
            "latitude = 95",
            (3, 12),
            "master.latitude",
            "between -90 and 90",
        ),
        // Master.
        case(
            "unknown time zone",
            "\"Europe/Paris\"",
            "\"Europe/Pari\"",
            (2, 12),
            "master.timezone",
            "unknown time zone `Europe/Pari`",
        ),
        case(
            "listen is not an address",
            "[master]",
            "[master]\nlisten = \"localhost:8001\"",
            (2, 10),
            "master.listen",
            "expected an IP address and port",
        ),
        case(
            "unsupported database",
            "[master]",
            "[master]\ndatabase = \"mysql://db/plants\"",
            (2, 12),
            "master.database",
            "expected `sqlite://PATH` or `postgres://",
        ),
        case(
            "mdns is not a boolean",
            "[master]",
            "[master]\nmdns = \"yes\"",
            (2, 8),
            "master.mdns",
            "expected `true` or `false`, got string \"yes\"",
        ),
        case(
            "mdns_name is not a DNS label",
            "[master]",
            "[master]\nmdns = true\nmdns_name = \"Plant_Keeper\"",
            (3, 13),
            "master.mdns_name",
            "`Plant_Keeper` is not a DNS label: 1 to 63 characters a-z, 0-9 and `-`",
        ),
        case(
            "mdns_name too long",
            "[master]",
            format!("[master]\nmdns_name = \"{}\"", "a".repeat(64)),
            (2, 13),
            "master.mdns_name",
            "is not a DNS label",
        ),
        case(
            "mdns advertising a loopback address",
            "[master]",
            "[master]\nlisten = \"127.0.0.1:8001\"\nmdns = true",
            (3, 8),
            "master.mdns",
            "`listen` is the loopback address 127.0.0.1:8001, which no node can reach",
        ),
        // References.
        case(
            "unknown node",
            PUMP_ON_WHEN,
            "on_when = \"bed-9.valve\"",
            (17, 12),
            "nodes.tank.outputs.pump.on_when",
            "unknown node `bed-9`; did you mean `bed-1`?",
        ),
        case(
            "unknown output",
            PUMP_ON_WHEN,
            "on_when = \"bed-1.valve or bed-1.valv\"",
            (17, 27),
            "nodes.tank.outputs.pump.on_when",
            "node `bed-1` has no output `valv`",
        ),
        case(
            "output compared with a number",
            PUMP_ON_WHEN,
            "on_when = \"bed-1.valve < 3\"",
            (17, 12),
            "nodes.tank.outputs.pump.on_when",
            "is an output",
        ),
        case(
            "sensor without comparison",
            PUMP_ON_WHEN,
            "on_when = \"level\"",
            (17, 12),
            "nodes.tank.outputs.pump.on_when",
            "`level` needs a comparison such as `level < 30`",
        ),
        case(
            "condition syntax error",
            "on_when = \"soil_moisture < 30\"",
            "on_when = \"soil_moisture < 30 and\"",
            (11, 34),
            "nodes.bed-1.outputs.valve.on_when",
            "expected a sensor",
        ),
        case(
            "number that is not finite",
            "on_when = \"soil_moisture < 30\"",
            "on_when = \"soil_moisture < inf\"",
            (11, 28),
            "nodes.bed-1.outputs.valve.on_when",
            "expected a finite number",
        ),
        case(
            "cycle between two outputs",
            VALVE_OFF_WHEN,
            valve_lines("require = [\"not tank.pump\"]"),
            (18, 12),
            "nodes.tank.outputs.pump.on_when",
            "reference cycle `bed-1.valve -> tank.pump -> bed-1.valve`",
        ),
        case(
            "output referencing itself",
            PUMP_ON_WHEN,
            "on_when = \"tank.pump\"",
            (17, 12),
            "nodes.tank.outputs.pump.on_when",
            "reference cycle `tank.pump -> tank.pump`",
        ),
        // Nodes and names.
        case(
            "invalid node id",
            END,
            at_end("[nodes.Bed-3]\ntoken = \"bed-3-test-token-0001\""),
            (18, 8),
            "nodes.Bed-3",
            "invalid node id `Bed-3`",
        ),
        case(
            "invalid output name",
            "[nodes.tank.outputs.pump]",
            "[nodes.tank.outputs.Pump]",
            (16, 21),
            "nodes.tank.outputs.Pump",
            "invalid output name `Pump`",
        ),
        case(
            "invalid sensor name",
            "sensors.soil_moisture",
            "sensors.soil-moisture",
            (8, 9),
            "nodes.bed-1.sensors.soil-moisture",
            "invalid sensor name `soil-moisture`",
        ),
        case(
            "sensor min not below max",
            "min = 0, max = 100",
            "min = 100, max = 0",
            (8, 44),
            "nodes.bed-1.sensors.soil_moisture.max",
            "`max` (0) must be greater than `min` (100)",
        ),
        // Tokens.
        case(
            "malformed token hash",
            "token = \"tank-test-token-00001\"",
            "token_sha256 = \"abc\"",
            (15, 16),
            "nodes.tank.token_sha256",
            "expected 64 hexadecimal characters",
        ),
        case(
            "both token and token_sha256",
            "token = \"tank-test-token-00001\"",
            format!(
                "token_sha256 = \"{}\"\ntoken = \"tank-test-token-00001\"",
                "ab".repeat(32)
            ),
            (16, 9),
            "nodes.tank.token",
            "set either `token_sha256` or `token`, not both",
        ),
        case(
            "neither token nor token_sha256",
            "token = \"tank-test-token-00001\"",
            "# no token",
            (14, 1),
            "nodes.tank",
            "missing `token_sha256`",
        ),
        case(
            "plain token too short",
            "token = \"tank-test-token-00001\"",
            "token = \"short\"",
            (15, 9),
            "nodes.tank.token",
            "at least 16 characters, got 5",
        ),
        // Condition pairs that cannot work.
        case(
            "off_when outside the sensor range",
            VALVE_OFF_WHEN,
            "off_when = \"soil_moisture > 120\"",
            (12, 12),
            "nodes.bed-1.outputs.valve.off_when",
            "`soil_moisture > 120` can never be true: valid readings of `soil_moisture` are 0..100",
        ),
        case(
            "flapping on_when/off_when pair",
            VALVE_OFF_WHEN,
            "off_when = \"soil_moisture < 40\"",
            (12, 12),
            "nodes.bed-1.outputs.valve.off_when",
            "are both true at soil_moisture = 29, so the output would flap",
        ),
        case(
            "off_when without on_when",
            PUMP_ON_WHEN,
            "off_when = \"level > 5\"",
            (17, 12),
            "nodes.tank.outputs.pump.off_when",
            "`off_when` without `on_when`",
        ),
        case(
            "require excluding every on_when value",
            VALVE_OFF_WHEN,
            valve_lines("require = [\"soil_moisture > 50\"]"),
            (11, 11),
            "nodes.bed-1.outputs.valve.on_when",
            "can never switch the output ON while `require`",
        ),
        // Telemetry and alerts.
        case(
            "unknown log format",
            END,
            at_end("[telemetry]\nlog_format = \"yaml\""),
            (19, 14),
            "telemetry.log_format",
            "expected `text` or `json`, got `yaml`",
        ),
        case(
            "bad loki label name",
            END,
            at_end("[telemetry]\nloki_labels = { 1site = \"x\" }"),
            (19, 17),
            "telemetry.loki_labels.1site",
            "invalid label name `1site`",
        ),
        // Storage retention.
        case(
            "keep_raw without a unit",
            END,
            at_end("[storage]\nkeep_raw = \"30\""),
            (19, 12),
            "storage.keep_raw",
            "a unit is needed",
        ),
        case(
            "keep_raw below a day",
            END,
            at_end("[storage]\nkeep_raw = \"2h\""),
            (19, 12),
            "storage.keep_raw",
            "must be at least 24h, got `2h`",
        ),
        case(
            "keep_hourly shorter than keep_raw",
            END,
            at_end("[storage]\nkeep_raw = \"60d\"\nkeep_hourly = \"30d\""),
            (20, 15),
            "storage.keep_hourly",
            "must be at least `keep_raw`",
        ),
        case(
            "keep_hourly beyond a century",
            END,
            at_end("[storage]\nkeep_hourly = \"101y\""),
            (19, 15),
            "storage.keep_hourly",
            "must be at most",
        ),
        case(
            "typo in a storage key",
            END,
            at_end("[storage]\nkeep_raws = \"30d\""),
            (19, 1),
            "storage.keep_raws",
            "keep_raw",
        ),
        case(
            "reserved loki label",
            END,
            at_end("[telemetry]\nloki_labels = { host = \"x\" }"),
            (19, 17),
            "telemetry.loki_labels.host",
            "`host` is set by PlantKeeper itself",
        ),
        case(
            "loki label reserved by Loki",
            END,
            at_end("[telemetry]\nloki_labels = { __name = \"x\" }"),
            (19, 17),
            "telemetry.loki_labels.__name",
            "reserved by Loki",
        ),
        case(
            "empty loki label value",
            END,
            at_end("[telemetry]\nloki_labels = { site = \"\" }"),
            (19, 24),
            "telemetry.loki_labels.site",
            "a label value has 1 to 128 characters",
        ),
        case(
            "too many loki labels",
            END,
            at_end(
                "[telemetry]\nloki_labels = { a = \"1\", b = \"2\", c = \"3\", d = \"4\", e = \"5\", f = \"6\", g = \"7\", h = \"8\", i = \"9\" }",
            ),
            (19, 15),
            "telemetry.loki_labels",
            "9 labels; at most 8",
        ),
        case(
            "loki url not http",
            END,
            at_end("[telemetry]\nloki_url = \"ftp://loki:3100\""),
            (19, 12),
            "telemetry.loki_url",
            "expected a URL starting with http://",
        ),
        case(
            "loki url with a bad port",
            END,
            at_end("[telemetry]\nloki_url = \"http://loki:31OO\""),
            (19, 12),
            "telemetry.loki_url",
            "the port must be a number",
        ),
        case(
            "loki url over https",
            END,
            at_end("[telemetry]\nloki_url = \"https://logs.example.org\""),
            (19, 12),
            "telemetry.loki_url",
            "plain http:// only",
        ),
        case(
            "unknown alert channel type",
            END,
            at_end("[alerts]\nchannels = [{ type = \"sms\", url = \"http://x\" }]"),
            (19, 22),
            "alerts.channels[0].type",
            "unknown channel type `sms`",
        ),
        case(
            "bad e-mail recipient",
            END,
            at_end(
                "[alerts]\nchannels = [{ type = \"email\", smtp = \"smtp://h:25\", from = \"a@b.c\", to = [\"nobody\"] }]",
            ),
            (19, 75),
            "alerts.channels[0].to[0]",
            "expected an e-mail address",
        ),
        case(
            "webhook URL without scheme",
            END,
            at_end("[alerts]\nchannels = [{ type = \"webhook\", url = \"example.org/hook\" }]"),
            (19, 39),
            "alerts.channels[0].url",
            "expected a URL starting with http:// or https://",
        ),
        case(
            "repeat_every of zero",
            END,
            at_end("[alerts]\nrepeat_every = \"0s\""),
            (19, 16),
            "alerts.repeat_every",
            "must be positive",
        ),
        case(
            "plain SMTP password",
            END,
            at_end(
                "[alerts]\nchannels = [{ type = \"email\", smtp = \"smtp://h:25\", from = \"a@b.c\", to = [\"me@b.c\"], password = \"hunter2\" }]",
            ),
            (19, 86),
            "alerts.channels[0].password",
            "`password` belongs in a file named by `password_file`",
        ),
        case(
            "username without password_file",
            END,
            at_end(
                "[alerts]\nchannels = [{ type = \"email\", smtp = \"smtp://h:25\", from = \"a@b.c\", to = [\"me@b.c\"], username = \"pk\" }]",
            ),
            (19, 97),
            "alerts.channels[0].username",
            "`username` needs `password_file` too",
        ),
        case(
            "max_per_hour of zero",
            END,
            at_end(
                "[alerts]\nchannels = [{ type = \"ntfy\", url = \"http://x/t\", max_per_hour = 0 }]",
            ),
            (19, 65),
            "alerts.channels[0].max_per_hour",
            "expected a whole number from 1 to 3600, got 0",
        ),
        case(
            "unknown min_severity",
            END,
            at_end(
                "[alerts]\nchannels = [{ type = \"ntfy\", url = \"http://x/t\", min_severity = \"high\" }]",
            ),
            (19, 65),
            "alerts.channels[0].min_severity",
            "unknown severity `high`; expected `info`, `warning` or `critical`",
        ),
        case(
            "alert rule severity",
            END,
            at_end(
                "[[alerts.rules]]\nname = \"dry\"\nwhen = \"bed-1.soil_moisture < 20\"\nseverity = \"urgent\"",
            ),
            (21, 12),
            "alerts.rules[0].severity",
            "unknown severity `urgent`",
        ),
        case(
            "alert rule with a bare sensor and no node",
            END,
            at_end("[[alerts.rules]]\nname = \"dry\"\nwhen = \"soil_moisture < 20\""),
            (20, 8),
            "alerts.rules[0].when",
            "`soil_moisture` names no node: write `NODE.soil_moisture` or set `node` on the rule",
        ),
        case(
            "alert rule on an unknown node",
            END,
            at_end(
                "[[alerts.rules]]\nname = \"dry\"\nnode = \"bed-9\"\nwhen = \"soil_moisture < 20\"",
            ),
            (20, 8),
            "alerts.rules[0].node",
            "unknown node `bed-9`",
        ),
        case(
            "alert rule condition syntax",
            END,
            at_end(
                "[[alerts.rules]]\nname = \"dry\"\nnode = \"bed-1\"\nwhen = \"soil_moisture <\"",
            ),
            (21, 24),
            "alerts.rules[0].when",
            "expected a finite number such as `30` or `-2.5`, found the end of the condition",
        ),
        case(
            "alert rule for too long",
            END,
            at_end(
                "[[alerts.rules]]\nname = \"dry\"\nwhen = \"bed-1.soil_moisture < 20\"\nfor = \"25h\"",
            ),
            (21, 7),
            "alerts.rules[0].for",
            "must be at most 24h",
        ),
        case(
            "alert rule named like a built-in rule",
            END,
            at_end("[[alerts.rules]]\nname = \"node_silent\"\nwhen = \"bed-1.soil_moisture < 20\""),
            (19, 8),
            "alerts.rules[0].name",
            "`node_silent` is the name of a built-in rule; choose another",
        ),
        case(
            "two alert rules with one name",
            END,
            at_end(
                "[[alerts.rules]]\nname = \"dry\"\nwhen = \"bed-1.soil_moisture < 20\"\n[[alerts.rules]]\nname = \"dry\"\nwhen = \"bed-1.soil_moisture < 10\"",
            ),
            (22, 8),
            "alerts.rules[1].name",
            "another rule is already named `dry`",
        ),
        // TOML syntax.
        case(
            "duplicate key",
            VALVE_OFF_WHEN,
            valve_lines("on_when = \"soil_moisture < 20\""),
            (13, 1),
            "",
            "duplicate key",
        ),
        case(
            "unquoted string",
            "on_when = \"soil_moisture < 30\"",
            "on_when = soil_moisture < 30",
            (11, 11),
            "",
            "string values must be quoted",
        ),
    ]
}

fn load(text: &str) -> Result<(), Vec<ConfigError>> {
    load_settings("garden.toml", text).map(|_| ())
}

#[test]
fn base_config_is_valid() {
    if let Err(errors) = load(BASE) {
        panic!("the base config of the broken-variant cases must load: {errors:#?}");
    }
}

#[test]
fn each_broken_variant_is_rejected_with_its_own_positioned_message() {
    let mut failures = Vec::new();
    for case in cases() {
        assert!(
            BASE.contains(case.replace),
            "case `{}` replaces text missing from BASE",
            case.name
        );
        let text = BASE.replacen(case.replace, &case.with, 1);
        let errors = match load(&text) {
            Ok(()) => {
                failures.push(format!("{}: accepted", case.name));
                continue;
            }
            Err(errors) => errors,
        };
        let rendered: Vec<String> = errors.iter().map(ToString::to_string).collect();
        let [error] = errors.as_slice() else {
            failures.push(format!(
                "{}: expected one error, got {rendered:#?}",
                case.name
            ));
            continue;
        };
        let matches = error.file == "garden.toml"
            && (error.line, error.column) == (case.line, case.column)
            && error.field == case.field
            && error.message.contains(case.message);
        if !matches {
            failures.push(format!(
                "{}: expected garden.toml:{}:{}: {}: …{}…\n   got {}",
                case.name, case.line, case.column, case.field, case.message, rendered[0]
            ));
        }
    }
    assert!(
        failures.is_empty(),
        "{} case(s) failed:\n{}",
        failures.len(),
        failures.join("\n")
    );
}

#[test]
fn sunrise_window_without_location_is_rejected_at_the_window() {
    let text = BASE
        .replace("latitude = 48.85\nlongitude = 2.35\n", "\n\n")
        .replace(
            VALVE_OFF_WHEN,
            &valve_lines("schedule = [\"sunrise+30m-sunset\"]"),
        );
    let errors = load(&text).expect_err("sunrise needs a location");
    let rendered: Vec<String> = errors.iter().map(ToString::to_string).collect();
    assert_eq!(
        rendered,
        [
            "garden.toml:13:13: nodes.bed-1.outputs.valve.schedule[0]: `sunrise+30m-sunset` uses sunrise/sunset, which needs `latitude` and `longitude` in [master]"
        ]
    );
}
