//! The report: the table, the ratios to a direct PUT, and the targets.

use super::*;

pub(crate) fn report(
    header: &str,
    results: &[(Scenario, Vec<(Side, Measured)>)],
    labels: &[String],
    idle: &[(String, u64, u64)],
) -> String {
    let mut out = String::new();
    let _ = writeln!(out, "{header}");
    let _ = writeln!(
        out,
        "x direct = this side / direct PUT, measured in the same run. CPU is the threads' time on a CPU \
         (schedstat) over the timed section only. Peak RSS is the server's VmHWM, reset before each round. \
         On the relay's row, the server's columns are the relay's."
    );
    let _ = writeln!(out);
    let _ = writeln!(
        out,
        "| scenario | side | MiB/s | req/s | p50 ms | p99 ms | x direct MiB/s | x direct p99 | \
         server peak RSS MiB | server CPU s/GiB | store CPU s/GiB | client CPU s/GiB | client CPU % | \
         checked size/bytes |"
    );
    let _ = writeln!(
        out,
        "|---|---|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|"
    );
    let mut notes: Vec<String> = Vec::new();
    for (scenario, sides) in results {
        let direct = find(sides, Side::Direct);
        for (side, m) in sides {
            let label = match side {
                Side::Direct => "direct PUT".to_owned(),
                Side::DirectMultipart => "direct multipart".to_owned(),
                Side::Relay => "direct PUT via a byte relay".to_owned(),
                Side::Server(i) => match scenario.via {
                    Via::S3Multipart => format!("{}: signs, parts to the store", labels[*i]),
                    Via::S3Form => format!("{}: signs, forms to the store", labels[*i]),
                    _ => labels[*i].clone(),
                },
            };
            let _ = writeln!(out, "{}", row(scenario, *side, &label, m, direct));
            if *side == Side::DirectMultipart && !m.complete.is_empty() {
                let mut complete = m.complete.clone();
                complete.sort();
                notes.push(format!(
                    "{}: the store's CompleteMultipartUpload (of a request's last file) alone took {:.0} ms \
                     (median) of the direct multipart request's {:.0} ms",
                    scenario.name,
                    complete[complete.len() / 2].as_secs_f64() * 1e3,
                    m.percentile(0.5).as_secs_f64() * 1e3,
                ));
            }
        }
    }
    let _ = writeln!(out);
    for (label, start, after) in idle {
        let _ = writeln!(
            out,
            "{label} idle RSS: {:.1} MiB after start, {:.1} MiB after the run",
            mib(*start),
            mib(*after)
        );
    }
    let mut checks = targets(results);
    if let Some((_, start, _)) = idle.first() {
        checks.push((
            format!(
                "server idle RSS {:.1} MiB after start (target <= 20 MiB)",
                mib(*start)
            ),
            mib(*start) <= 20.0,
        ));
    }
    notes.extend(relay_notes(results));
    notes.extend(tus_notes(results));
    notes.extend(direct_upload_notes(results));
    for note in notes {
        let _ = writeln!(out, "{note}");
    }
    let _ = writeln!(out);
    let _ = writeln!(out, "targets (server under test):");
    for (what, met) in &checks {
        let _ = writeln!(out, "- [{}] {what}", if *met { "met" } else { "NOT met" });
    }
    out
}

fn mib(kib: u64) -> f64 {
    kib as f64 / 1024.0
}

pub(crate) fn find(sides: &[(Side, Measured)], side: Side) -> Option<&Measured> {
    sides.iter().find(|(s, _)| *s == side).map(|(_, m)| m)
}

/// One line of the table.
fn row(
    scenario: &Scenario,
    side: Side,
    label: &str,
    m: &Measured,
    direct: Option<&Measured>,
) -> String {
    let (ratio, p99_ratio) = match (side, direct) {
        (Side::Direct, _) | (_, None) => (String::new(), String::new()),
        (_, Some(d)) => (
            format!("{:.2}", m.mib_per_s() / d.mib_per_s()),
            format!(
                "{:.2}",
                m.percentile(0.99).as_secs_f64() / d.percentile(0.99).as_secs_f64()
            ),
        ),
    };
    let (peak, server_cpu) = match side {
        Side::Server(_) | Side::Relay => (
            format!("{:.1}", mib(m.server_peak_kib)),
            format!("{:.2}", m.per_gib(m.server_cpu)),
        ),
        _ => (String::new(), String::new()),
    };
    format!(
        "| {} (x{}) | {label} | {:.0} | {:.1} | {:.1} | {:.1} | {ratio} | {p99_ratio} | {peak} | \
         {server_cpu} | {:.2} | {:.2} | {:.0}% | {}/{} |",
        scenario.name,
        scenario.rounds,
        m.mib_per_s(),
        m.requests_per_s(),
        m.percentile(0.5).as_secs_f64() * 1e3,
        m.percentile(0.99).as_secs_f64() * 1e3,
        m.per_gib(m.store_cpu),
        m.per_gib(m.client_cpu),
        100.0 * m.client_cpu / m.elapsed.as_secs_f64(),
        m.verified_size,
        m.verified_content,
    )
}

/// The targets of the server under test (the first), scenario by scenario: each line, and whether it is met.
fn targets(results: &[(Scenario, Vec<(Side, Measured)>)]) -> Vec<(String, bool)> {
    let mut checks = Vec::new();
    for (scenario, sides) in results {
        let (Some(m), Some(d)) = (find(sides, Side::Server(0)), find(sides, Side::Direct)) else {
            continue;
        };
        let direct_mp = find(sides, Side::DirectMultipart);
        // The byte relay's figure for the same target, where it ran: what any proxy reaches on this machine.
        let relay = find(sides, Side::Relay);
        let floor = |value: &dyn Fn(&Measured) -> f64| {
            relay.map_or_else(String::new, |r| format!("; a byte relay: {:.2}", value(r)))
        };
        let p =
            |m: &Measured, q: f64| m.percentile(q).as_secs_f64() / d.percentile(q).as_secs_f64();
        let ratio = m.mib_per_s() / d.mib_per_s();
        if let Some(target) = scenario.target_ratio {
            let mut line = format!(
                "{}: throughput {ratio:.2}x direct PUT (target >= {target:.1}x)",
                scenario.name
            );
            if let Some(mp) = direct_mp {
                let _ = write!(
                    line,
                    "; {:.2}x direct multipart",
                    m.mib_per_s() / mp.mib_per_s()
                );
            }
            line.push_str(&floor(&|r| r.mib_per_s() / d.mib_per_s()));
            checks.push((line, ratio >= target));
        }
        if scenario.id == "seq" {
            let p50 = p(m, 0.5);
            checks.push((
                format!(
                    "{}: p50 {p50:.2}x direct PUT (target <= 1.15x){}",
                    scenario.name,
                    floor(&|r| p(r, 0.5))
                ),
                p50 <= 1.15,
            ));
        }
        // Many small files at once: the tail within a quarter of a direct PUT's; elsewhere within a half.
        let p99_bound = if scenario.id == "many" { 1.25 } else { 1.5 };
        let p99 = p(m, 0.99);
        let mut line = format!(
            "{}: p99 {p99:.2}x direct PUT (target <= {p99_bound}x)",
            scenario.name
        );
        if let Some(mp) = direct_mp {
            let _ = write!(
                line,
                "; {:.2}x direct multipart",
                m.percentile(0.99).as_secs_f64() / mp.percentile(0.99).as_secs_f64()
            );
        }
        line.push_str(&floor(&|r| p(r, 0.99)));
        checks.push((line, p99 <= p99_bound));
        let per_gib = m.per_gib(m.server_cpu);
        checks.push((
            format!(
                "{}: server {per_gib:.2} CPU s/GiB (target <= 1.0){}",
                scenario.name,
                floor(&|r| r.per_gib(r.server_cpu))
            ),
            per_gib <= 1.0,
        ));
        if scenario.id == "huge" || scenario.via != Via::Post {
            let peak = mib(m.server_peak_kib);
            checks.push((
                format!(
                    "{}: server peak RSS {peak:.1} MiB (target <= 48 MiB)",
                    scenario.name
                ),
                peak <= 48.0,
            ));
        }
    }
    checks
}
