//! The goals verdict at the end of the harness's output: each performance goal beside what this
//! run measured, and either "met" or how far off it is, as a number and a ratio, so the table
//! states the remaining distance instead of leaving the reader to subtract.

/// How a measured number is written.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Unit {
    Ms,
    Us,
    MiB,
    PerSec,
    /// A count per request (AWS calls).
    PerRequest,
}

impl Unit {
    pub fn show(self, v: f64) -> String {
        match self {
            Unit::Ms => format!("{v:.1} ms"),
            Unit::Us => format!("{v:.1} µs"),
            Unit::MiB => format!("{v:.2} MiB"),
            Unit::PerSec => format!("{} req/s", thousands(v.round() as i64)),
            Unit::PerRequest => format!("{v:.2}"),
        }
    }
}

/// What the goal asks of the measured number.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Aim {
    AtMost(f64),
    AtLeast(f64),
    /// Within half a hundredth (a per-request average of a count).
    Exactly(f64),
}

/// `12345` → `12,345`: req/s read at a glance.
pub fn thousands(n: i64) -> String {
    let digits = n.unsigned_abs().to_string();
    let mut out = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    if n < 0 { format!("-{out}") } else { out }
}

/// "met", or the distance from the goal: "5.10 MiB over (1.64×)", "4,674 req/s short (0.53×)".
pub fn distance(measured: f64, aim: Aim, unit: Unit) -> String {
    let (target, off) = match aim {
        Aim::AtMost(t) => (t, measured - t),
        Aim::AtLeast(t) => (t, measured - t),
        Aim::Exactly(t) => (t, measured - t),
    };
    let met = match aim {
        Aim::AtMost(_) => off <= 0.0,
        Aim::AtLeast(_) => off >= 0.0,
        Aim::Exactly(_) => off.abs() < 0.005,
    };
    if met {
        return "met".into();
    }
    let side = if off > 0.0 { "over" } else { "short" };
    let ratio = if target != 0.0 {
        format!(" ({:.2}×)", measured / target)
    } else {
        String::new()
    };
    format!("{} {side}{ratio}", unit.show(off.abs()))
}

/// One row of the verdict table.
#[derive(Debug, Clone, PartialEq)]
pub struct Row {
    pub goal: String,
    pub measured: String,
    pub verdict: String,
}

impl Row {
    /// A goal measured in this run; `note` qualifies the measurement (which function, which arch).
    pub fn measured(goal: &str, value: f64, aim: Aim, unit: Unit, note: &str) -> Self {
        let shown = unit.show(value);
        Self {
            goal: goal.into(),
            measured: if note.is_empty() {
                shown
            } else {
                format!("{shown} ({note})")
            },
            verdict: distance(value, aim, unit),
        }
    }

    /// A goal this run could not measure, and why.
    pub fn unmeasured(goal: &str, why: &str) -> Self {
        Self {
            goal: goal.into(),
            measured: "not measured".into(),
            verdict: why.into(),
        }
    }
}

/// The rows as a Markdown table, like the harness's other tables.
pub fn table(rows: &[Row]) -> String {
    let mut out = String::from("| goal | measured | verdict |\n|---|---|---|\n");
    for r in rows {
        out.push_str(&format!(
            "| {} | {} | {} |\n",
            r.goal, r.measured, r.verdict
        ));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn distances_state_the_gap_and_the_ratio() {
        assert_eq!(distance(12.0, Aim::AtMost(15.0), Unit::Ms), "met");
        assert_eq!(
            distance(13.12, Aim::AtMost(8.0), Unit::MiB),
            "5.12 MiB over (1.64×)"
        );
        assert_eq!(
            distance(5326.0, Aim::AtLeast(10_000.0), Unit::PerSec),
            "4,674 req/s short (0.53×)"
        );
        assert_eq!(
            distance(20_000.0, Aim::AtLeast(20_000.0), Unit::PerSec),
            "met"
        );
        assert_eq!(distance(2.0, Aim::Exactly(2.0), Unit::PerRequest), "met");
        assert_eq!(
            distance(3.0, Aim::Exactly(2.0), Unit::PerRequest),
            "1.00 over (1.50×)"
        );
        assert_eq!(
            distance(0.5, Aim::Exactly(1.0), Unit::PerRequest),
            "0.50 short (0.50×)"
        );
    }

    #[test]
    fn rows_and_table() {
        let row = Row::measured(
            "RSS after first invoke ≤ 20 MiB",
            12.7,
            Aim::AtMost(20.0),
            Unit::MiB,
            "largest: webhooks-api",
        );
        assert_eq!(row.measured, "12.70 MiB (largest: webhooks-api)");
        assert_eq!(row.verdict, "met");
        let text = table(&[row, Row::unmeasured("≥ 10,000 req/s", "wrk not installed")]);
        assert!(text.contains("| ≥ 10,000 req/s | not measured | wrk not installed |"));
        assert_eq!(thousands(1_234_567), "1,234,567");
        assert_eq!(thousands(999), "999");
    }
}
