//! The counters of what happens, and what is read from SQLite at each
//! scrape, in one registry.

use std::sync::{Arc, Mutex};

use prometheus_client::encoding::{DescriptorEncoder, EncodeMetric};
use prometheus_client::metrics::MetricType;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::ConstGauge;
use prometheus_client::metrics::histogram::{Histogram, exponential_buckets};
use prometheus_client::registry::Registry;

use crate::error::Result;

pub(super) type Labels = Vec<(&'static str, String)>;

/// The counters of what happens, and the registry that shows them.
pub struct Metrics {
    pub(super) registry: Registry,
    pub(super) requests: Family<Labels, Counter>,
    pub(super) latency: Family<Labels, Histogram, fn() -> Histogram>,
    pub(super) git_operations: Family<Labels, Counter>,
    pub(super) git_bytes: Family<Labels, Counter>,
    pub(super) stored: Arc<Stored>,
}

impl std::fmt::Debug for Metrics {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Metrics")
    }
}

fn latency_histogram() -> Histogram {
    // 1 ms to about 33 s.
    Histogram::new(exponential_buckets(0.001, 2.0, 16))
}

impl Default for Metrics {
    fn default() -> Metrics {
        let mut registry = Registry::with_prefix("hearth");
        let requests = Family::<Labels, Counter>::default();
        registry.register(
            "http_requests",
            "HTTP requests answered, by route, method and status",
            requests.clone(),
        );
        let latency = Family::<Labels, Histogram, fn() -> Histogram>::new_with_constructor(latency_histogram);
        registry.register(
            "http_request_duration_seconds",
            "Time to answer an HTTP request (to its headers), by route and method",
            latency.clone(),
        );
        let git_operations = Family::<Labels, Counter>::default();
        registry.register(
            "git_operations",
            "git upload-pack (clone, fetch) and receive-pack (push) requests",
            git_operations.clone(),
        );
        let git_bytes = Family::<Labels, Counter>::default();
        registry.register(
            "git_bytes",
            "Bytes of the git protocol, by service and direction (in: from clients)",
            git_bytes.clone(),
        );
        let stored = Arc::new(Stored::default());
        registry.register_collector(Box::new(stored.clone()));
        Metrics {
            registry,
            requests,
            latency,
            git_operations,
            git_bytes,
            stored,
        }
    }
}

impl Metrics {
    pub fn git_operation(&self, service: &str) {
        self.git_operations
            .get_or_create(&vec![("service", service.to_string())])
            .inc();
    }

    /// Counts `n` bytes of `service` in `direction` (`in` or `out`).
    pub fn git_bytes(&self, service: &str, direction: &'static str, n: u64) {
        self.git_bytes
            .get_or_create(&vec![
                ("service", service.to_string()),
                ("direction", direction.to_string()),
            ])
            .inc_by(n);
    }
}

/// What SQLite says at a scrape.
#[derive(Debug, Default)]
pub(super) struct Snapshot {
    runs: Vec<(String, String, i64)>,
    jobs: Vec<(String, i64)>,
    queued: i64,
    job_seconds: (f64, u64, Vec<(f64, u64)>),
    deployments: Vec<(String, String, i64)>,
    deliveries: Vec<(String, i64)>,
    repositories: i64,
    users: i64,
    database_bytes: u64,
}

/// The part of `/metrics` read from the database, filled before each encoding.
#[derive(Debug, Default)]
pub(super) struct Stored {
    pub(super) now: Mutex<Snapshot>,
}

/// Upper bounds of the job duration histogram, in seconds.
const JOB_BUCKETS: [f64; 10] = [1.0, 5.0, 10.0, 30.0, 60.0, 120.0, 300.0, 600.0, 1800.0, 3600.0];

pub(super) fn read_snapshot(conn: &rusqlite::Connection, database_bytes: u64) -> Result<Snapshot> {
    let rows3 = |sql: &str| -> Result<Vec<(String, String, i64)>> {
        let mut stmt = conn.prepare_cached(sql)?;
        let rows = stmt.query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))?;
        Ok(rows.collect::<rusqlite::Result<_>>()?)
    };
    let rows2 = |sql: &str| -> Result<Vec<(String, i64)>> {
        let mut stmt = conn.prepare_cached(sql)?;
        let rows = stmt.query_map([], |r| Ok((r.get(0)?, r.get(1)?)))?;
        Ok(rows.collect::<rusqlite::Result<_>>()?)
    };
    let one = |sql: &str| -> Result<i64> { Ok(conn.query_row(sql, [], |r| r.get(0))?) };
    let buckets: Vec<String> = JOB_BUCKETS
        .iter()
        .map(|b| format!("SUM(completed_at - started_at <= {b})"))
        .collect();
    let sql = format!(
        "SELECT COUNT(*), COALESCE(SUM(completed_at - started_at), 0), {} FROM jobs
         WHERE status = 'completed' AND started_at IS NOT NULL AND completed_at IS NOT NULL",
        buckets.join(", ")
    );
    let job_seconds = conn.query_row(&sql, [], |r| {
        let count: i64 = r.get(0)?;
        let sum: i64 = r.get(1)?;
        let mut b = Vec::new();
        for (i, bound) in JOB_BUCKETS.iter().enumerate() {
            b.push((*bound, r.get::<_, Option<i64>>(i + 2)?.unwrap_or(0) as u64));
        }
        b.push((f64::INFINITY, count as u64));
        Ok((sum as f64, count as u64, b))
    })?;
    Ok(Snapshot {
        runs: rows3("SELECT status, COALESCE(conclusion, ''), COUNT(*) FROM runs GROUP BY 1, 2")?,
        jobs: rows2("SELECT status, COUNT(*) FROM jobs GROUP BY 1")?,
        queued: one("SELECT COUNT(*) FROM jobs WHERE status = 'queued'")?,
        job_seconds,
        deployments: rows3(
            "SELECT e.name, d.state, COUNT(*) FROM deployments d JOIN environments e ON e.id = d.environment_id GROUP BY 1, 2",
        )?,
        deliveries: rows2("SELECT state, COUNT(*) FROM hook_deliveries GROUP BY 1")?,
        repositories: one("SELECT COUNT(*) FROM repos")?,
        users: one("SELECT COUNT(*) FROM users")?,
        database_bytes,
    })
}

/// A histogram whose buckets were counted elsewhere (in SQL).
#[derive(Debug)]
struct Counted<'a>(&'a (f64, u64, Vec<(f64, u64)>));

impl EncodeMetric for Counted<'_> {
    fn encode(&self, mut encoder: prometheus_client::encoding::MetricEncoder) -> std::fmt::Result {
        let (sum, count, buckets) = self.0;
        // The buckets are cumulative already; the encoder takes each bucket's own count.
        let mut own = Vec::with_capacity(buckets.len());
        let mut below = 0;
        for (bound, cumulative) in buckets {
            own.push((*bound, cumulative - below));
            below = *cumulative;
        }
        encoder.encode_histogram::<prometheus_client::encoding::NoLabelSet>(*sum, *count, &own, None)
    }

    fn metric_type(&self) -> MetricType {
        MetricType::Histogram
    }
}

fn gauges(encoder: &mut DescriptorEncoder, name: &str, help: &str, rows: &[(Labels, i64)]) -> std::fmt::Result {
    let mut family = encoder.encode_descriptor(name, help, None, MetricType::Gauge)?;
    for (labels, value) in rows {
        ConstGauge::new(*value).encode(family.encode_family(labels)?)?;
    }
    Ok(())
}

impl prometheus_client::collector::Collector for Stored {
    fn encode(&self, mut encoder: DescriptorEncoder) -> std::fmt::Result {
        let s = crate::sync::lock(&self.now);
        let l = |pairs: &[(&'static str, &str)]| -> Labels { pairs.iter().map(|(k, v)| (*k, v.to_string())).collect() };
        gauges(
            &mut encoder,
            "runs",
            "Workflow runs, by status and conclusion",
            &s.runs
                .iter()
                .map(|(st, c, n)| (l(&[("status", st), ("conclusion", c)]), *n))
                .collect::<Vec<_>>(),
        )?;
        gauges(
            &mut encoder,
            "jobs",
            "Jobs, by status",
            &s.jobs
                .iter()
                .map(|(st, n)| (l(&[("status", st)]), *n))
                .collect::<Vec<_>>(),
        )?;
        gauges(
            &mut encoder,
            "queue_length",
            "Jobs queued, not yet started",
            &[(Vec::new(), s.queued)],
        )?;
        Counted(&s.job_seconds).encode(encoder.encode_descriptor(
            "job_duration_seconds",
            "How long finished jobs ran",
            None,
            MetricType::Histogram,
        )?)?;
        gauges(
            &mut encoder,
            "deployments",
            "Deployments, by environment and state",
            &s.deployments
                .iter()
                .map(|(e, st, n)| (l(&[("environment", e), ("state", st)]), *n))
                .collect::<Vec<_>>(),
        )?;
        gauges(
            &mut encoder,
            "webhook_deliveries",
            "Webhook deliveries, by state (pending, delivered, failed)",
            &s.deliveries
                .iter()
                .map(|(st, n)| (l(&[("state", st)]), *n))
                .collect::<Vec<_>>(),
        )?;
        gauges(
            &mut encoder,
            "repositories",
            "Repositories",
            &[(Vec::new(), s.repositories)],
        )?;
        gauges(&mut encoder, "users", "Accounts", &[(Vec::new(), s.users)])?;
        gauges(
            &mut encoder,
            "database_bytes",
            "Size of the SQLite database with its write-ahead log",
            &[(Vec::new(), s.database_bytes as i64)],
        )?;
        Ok(())
    }
}
