//! CI: workflows (`workflow`, a pure parser), turning pushes into runs
//! (`trigger`), and running their jobs (`executor`). Runs, jobs and steps are
//! kept in SQLite; logs in `data/runs/{run}/{job}.log`.

pub mod executor;
pub mod trigger;
pub mod workflow;
