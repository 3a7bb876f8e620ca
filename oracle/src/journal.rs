//! The node's journal: every job it accepted and how far it got, in an embedded database. Each
//! change is one durable transaction, so after a crash (kill -9 at any point) the node knows
//! which jobs to compute, which to submit and which are finished — nothing lost, nothing done
//! twice. Counts by state are kept with every change (reading them costs nothing), and finished
//! jobs are indexed by when they finished, so those past the retention can be pruned.

use redb::{
    Database, DatabaseError, ReadOnlyDatabase, ReadTransaction, ReadableDatabase, ReadableTable,
    ReadableTableMetadata, TableDefinition, TableError,
};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::path::Path;
use std::time::{SystemTime, UNIX_EPOCH};
use thiserror::Error;

const JOBS: TableDefinition<u64, &[u8]> = TableDefinition::new("jobs");
/// Jobs by [`JobState::count_key`], updated in the same transaction as the job.
const COUNTS: TableDefinition<&str, u64> = TableDefinition::new("counts");
/// Finished jobs by `(finished at, unix seconds; request id)`: what pruning reads.
const FINISHED: TableDefinition<(u64, u64), ()> = TableDefinition::new("finished");
/// The deployment whose jobs the journal records, under [`DEPLOYMENT_KEY`].
const DEPLOYMENT: TableDefinition<&str, &str> = TableDefinition::new("deployment");
const DEPLOYMENT_KEY: &str = "oracle";

/// Seconds since the Unix epoch.
pub fn unix_now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

/// The journal's unfinished jobs ([`Journal::unfinished`]).
#[derive(Debug, Default)]
pub struct Unfinished {
    /// Those this code reads, by request id.
    pub jobs: Vec<Job>,
    /// Those it cannot read, each as its error.
    pub unreadable: Vec<JournalError>,
    /// How many of those may be counted as accepted or computed.
    pub unreadable_uncommitted: u64,
}

#[derive(Debug, Error)]
pub enum JournalError {
    #[error("journal database: {0}")]
    Database(String),
    #[error("the journal is open in another process (a running node)")]
    InUse,
    #[error("journal entry for request {0} is corrupted: {1}")]
    Corrupted(u64, String),
    #[error("request {0} is not in the journal")]
    Unknown(u64),
    #[error(
        "this journal records the jobs of {recorded}, not of {serving}: its jobs are that \
         node's, and request ids are only unique within one deployment, so one journal cannot \
         hold two. Set `journal` in config.toml to a new file (or move this one away) to serve \
         {serving}"
    )]
    OtherDeployment { recorded: String, serving: String },
    #[error("request {request_id}: cannot go from {from} to {to}")]
    BadTransition {
        request_id: u64,
        from: &'static str,
        to: &'static str,
    },
}

/// The counts of the journal at `path` (as [`Journal::counts`]), read without writing or
/// creating it: what `oracle-node status` shows while no node runs. A missing journal has no
/// jobs; one a running node holds open is [`JournalError::InUse`] (ask the node instead).
pub fn read_counts(path: &Path) -> Result<BTreeMap<String, u64>, JournalError> {
    if !path.exists() {
        return Ok(BTreeMap::new());
    }
    let db = ReadOnlyDatabase::open(path).map_err(|e| match e {
        DatabaseError::DatabaseAlreadyOpen => JournalError::InUse,
        DatabaseError::RepairAborted => JournalError::Database(
            "it was not closed cleanly (the node stopped abruptly); the node repairs it when \
             it next starts"
                .into(),
        ),
        other => db_error(other),
    })?;
    counts_in(&db.begin_read().map_err(db_error)?)
}

/// The counts as `tx` sees them.
fn counts_in(tx: &ReadTransaction) -> Result<BTreeMap<String, u64>, JournalError> {
    let table = tx.open_table(COUNTS).map_err(|e| match e {
        // A journal of a node from before the counts (`Journal::open` builds them).
        TableError::TableDoesNotExist(_) => JournalError::Database(
            "it has no job counts yet; the node builds them when it next starts".into(),
        ),
        other => db_error(other),
    })?;
    let mut counts = BTreeMap::new();
    for entry in table.iter().map_err(db_error)? {
        let (key, value) = entry.map_err(db_error)?;
        if value.value() > 0 {
            counts.insert(key.value().to_string(), value.value());
        }
    }
    Ok(counts)
}

fn db_error(e: impl std::fmt::Display) -> JournalError {
    JournalError::Database(e.to_string())
}

/// What the engine produced for a job.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Computed {
    pub output: String,
    pub result_digest: String,
    pub output_hash: String,
}

/// How a job ended.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum Finished {
    /// The contract recorded our attestation.
    Attested,
    /// The request was resolved or timed out, or its commit phase closed, before this node
    /// attested: it did not (a reveal needs a commitment made in the commit phase), or, having
    /// committed, revealed after the resolution (recorded unpaid: a commitment must be revealed).
    /// Frequent late jobs mean the node is too slow for its committees.
    Late(String),
    /// The contract refused the attestation (a bad signature, a node no longer on the
    /// committee...). Sending it again would be refused again, so the job ends here.
    Refused(String),
    /// Nothing to attest: the request is gone or malformed, or inference failed.
    Missed(String),
}

impl Finished {
    /// The `result` label of the `jobs_finished` metric.
    pub fn label(&self) -> &'static str {
        match self {
            Finished::Attested => "attested",
            Finished::Late(_) => "late",
            Finished::Refused(_) => "refused",
            Finished::Missed(_) => "missed",
        }
    }
}

/// Where a job stands.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum JobState {
    /// Assigned to this node; not computed yet.
    Accepted,
    /// Computed; not committed yet.
    Computed(Computed),
    /// Committed on chain (the contract holds this node's commitment to its signed result);
    /// waiting for the reveal phase, then submitted. Never committed again: the signature is
    /// deterministic, so the attestation that matches the commitment is re-derived from
    /// `Computed`.
    Committed(Computed),
    /// An attestation transaction was signed and is being (or was) sent: `attempts` signed
    /// transactions so far; the last one's hash and bytes (base64), so a restarted node can ask
    /// the chain about it or send the very same bytes again.
    Submitted {
        computed: Computed,
        tx_hash: String,
        #[serde(default)]
        signed_tx: String,
        attempts: u32,
    },
    Finished(Finished),
}

impl JobState {
    /// What the journal counts this state as: its name, and for a finished job how it ended
    /// (`finished (attested)`, `finished (late)`, ...).
    pub fn count_key(&self) -> String {
        match self {
            JobState::Finished(finished) => format!("finished ({})", finished.label()),
            other => other.name().to_string(),
        }
    }

    pub fn name(&self) -> &'static str {
        match self {
            JobState::Accepted => "accepted",
            JobState::Computed(_) => "computed",
            JobState::Committed(_) => "committed",
            JobState::Submitted { .. } => "submitted",
            JobState::Finished(_) => "finished",
        }
    }
}

/// One job as journaled.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Job {
    pub request_id: u64,
    pub model_id: String,
    pub state: JobState,
    /// The result digest this node computed (kept once the job finishes).
    #[serde(default)]
    pub result_digest: Option<String>,
    /// When the job finished (unix seconds).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub finished_at: Option<u64>,
}

/// What `/jobs` shows instead of a result not revealed yet.
pub const HIDDEN: &str = "(hidden until revealed)";

impl Job {
    /// The job as anyone may see it: the output, result digest and output hash of a job
    /// computed or committed but not revealed yet are [`HIDDEN`] — whoever read them could
    /// commit to this node's answer without computing it, which commit–reveal exists to stop —
    /// and so is the digest of one that ended without revealing (missed or refused) while
    /// others may still commit.
    pub fn without_secrets(mut self) -> Self {
        match &mut self.state {
            JobState::Computed(computed) | JobState::Committed(computed) => {
                *computed = Computed {
                    output: HIDDEN.into(),
                    result_digest: HIDDEN.into(),
                    output_hash: HIDDEN.into(),
                };
                self.result_digest = None;
            }
            JobState::Finished(Finished::Missed(_) | Finished::Refused(_)) => {
                self.result_digest = None;
            }
            _ => {}
        }
        self
    }
}

/// The journal database.
pub struct Journal {
    db: Database,
}

impl Journal {
    /// Opens (or creates) the journal at `path`, readable by its owner only (on Unix). A
    /// journal written before counts and the finished index existed gets them now (its
    /// finished jobs count as finished now; entries this code cannot read are not counted).
    pub fn open(path: &Path) -> Result<Self, JournalError> {
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent).map_err(db_error)?;
        }
        let existed = path.exists();
        let db = Database::create(path).map_err(db_error)?;
        if !existed {
            // redb syncs the file, not its directory entry: without this, a power cut soon
            // after the first start could take the new journal, and the commitments in it.
            sync_parent_directory(path).map_err(db_error)?;
        }
        // A file system that keeps no modes (vfat, some network mounts) refuses: the node still
        // starts (to reveal what it owes), new journal or old, and says so.
        if let Err(error) = restrict_to_owner(path) {
            tracing::warn!(
                %error,
                "cannot make the journal {} readable by its owner only: other users of this \
                 machine can read its unrevealed results; chmod 600 it",
                path.display()
            );
        }
        let tx = db.begin_write().map_err(db_error)?;
        {
            let mut jobs = tx.open_table(JOBS).map_err(db_error)?;
            let mut counts = tx.open_table(COUNTS).map_err(db_error)?;
            let mut finished = tx.open_table(FINISHED).map_err(db_error)?;
            if counts.is_empty().map_err(db_error)? && !jobs.is_empty().map_err(db_error)? {
                let now = unix_now();
                let mut stamped = Vec::new();
                for entry in jobs.iter().map_err(db_error)? {
                    let (key, value) = entry.map_err(db_error)?;
                    // As in `unfinished`: one unreadable entry stops none of the others (it is
                    // not counted; `/health` names it if it is unfinished).
                    let mut job = match decode(key.value(), value.value()) {
                        Ok(job) => job,
                        Err(error) => {
                            tracing::warn!(%error, "counting the journal's jobs: left out");
                            continue;
                        }
                    };
                    count(&mut counts, &job.state.count_key(), 1)?;
                    if matches!(job.state, JobState::Finished(_)) && job.finished_at.is_none() {
                        job.finished_at = Some(now);
                        stamped.push(job);
                    }
                }
                for job in stamped {
                    jobs.insert(job.request_id, encode(&job).as_slice())
                        .map_err(db_error)?;
                    finished
                        .insert((now, job.request_id), ())
                        .map_err(db_error)?;
                }
            }
        }
        tx.commit().map_err(db_error)?;
        Ok(Self { db })
    }

    /// Binds the journal to the node and deployment it records jobs of (`node` of
    /// `oracle_contract` on `chain_id`): on first use (or a journal written before bindings
    /// existed) it is recorded; afterwards any other is refused
    /// ([`JournalError::OtherDeployment`]). Another deployment's request ids would be taken for
    /// this one's (its requests skipped as already journaled, results computed for one request
    /// attested to another); another account's jobs would be revealed by this one, which the
    /// contract refuses, leaving that account's commitments unrevealed (slashed) and this one's
    /// requests skipped as journaled. A journal bound before accounts were is bound to `node`.
    pub fn bind_deployment(
        &self,
        chain_id: &str,
        oracle_contract: &str,
        node: &str,
    ) -> Result<(), JournalError> {
        let deployment = format!("oracle contract {oracle_contract} on chain {chain_id}");
        let serving = format!("node {node} of {deployment}");
        let tx = self.db.begin_write().map_err(db_error)?;
        {
            let mut table = tx.open_table(DEPLOYMENT).map_err(db_error)?;
            let recorded = table
                .get(DEPLOYMENT_KEY)
                .map_err(db_error)?
                .map(|value| value.value().to_string());
            match recorded {
                Some(recorded) if recorded == serving => {}
                Some(recorded) if recorded != deployment => {
                    return Err(JournalError::OtherDeployment { recorded, serving })
                }
                _ => {
                    table
                        .insert(DEPLOYMENT_KEY, serving.as_str())
                        .map_err(db_error)?;
                }
            }
        }
        tx.commit().map_err(db_error)
    }

    /// Records a newly assigned request; `false` if it was already journaled (in any state).
    pub fn accept(&self, request_id: u64, model_id: &str) -> Result<bool, JournalError> {
        let tx = self.db.begin_write().map_err(db_error)?;
        let added = {
            let mut table = tx.open_table(JOBS).map_err(db_error)?;
            if table.get(request_id).map_err(db_error)?.is_some() {
                false
            } else {
                let job = Job {
                    request_id,
                    model_id: model_id.to_string(),
                    state: JobState::Accepted,
                    result_digest: None,
                    finished_at: None,
                };
                table
                    .insert(request_id, encode(&job).as_slice())
                    .map_err(db_error)?;
                let mut counts = tx.open_table(COUNTS).map_err(db_error)?;
                count(&mut counts, &job.state.count_key(), 1)?;
                true
            }
        };
        tx.commit().map_err(db_error)?;
        Ok(added)
    }

    pub fn record_computed(&self, request_id: u64, computed: Computed) -> Result<(), JournalError> {
        self.update(request_id, "computed", |job| match job.state {
            JobState::Accepted => {
                job.result_digest = Some(computed.result_digest.clone());
                Some(JobState::Computed(computed))
            }
            _ => None,
        })
    }

    /// Records that the chain holds this node's commitment for a computed job.
    pub fn record_committed(&self, request_id: u64) -> Result<(), JournalError> {
        self.update(request_id, "committed", |job| match &job.state {
            JobState::Computed(computed) => Some(JobState::Committed(computed.clone())),
            _ => None,
        })
    }

    /// Records that an attestation transaction is being sent (for a committed job, or again);
    /// call it before sending, so a crash right after sending is known to have (maybe) sent it.
    pub fn record_submitted(
        &self,
        request_id: u64,
        tx_hash: &str,
        signed_tx: &str,
    ) -> Result<u32, JournalError> {
        let mut attempts = 0;
        self.update(request_id, "submitted", |job| {
            let (computed, previous) = match &job.state {
                JobState::Committed(c) => (c.clone(), 0),
                JobState::Submitted {
                    computed, attempts, ..
                } => (computed.clone(), *attempts),
                _ => return None,
            };
            attempts = previous + 1;
            Some(JobState::Submitted {
                computed,
                tx_hash: tx_hash.to_string(),
                signed_tx: signed_tx.to_string(),
                attempts,
            })
        })?;
        Ok(attempts)
    }

    pub fn record_finished(&self, request_id: u64, finished: Finished) -> Result<(), JournalError> {
        self.update(request_id, "finished", |job| match job.state {
            JobState::Finished(_) => None,
            _ => Some(JobState::Finished(finished)),
        })
    }

    pub fn get(&self, request_id: u64) -> Result<Option<Job>, JournalError> {
        let tx = self.db.begin_read().map_err(db_error)?;
        let table = tx.open_table(JOBS).map_err(db_error)?;
        table
            .get(request_id)
            .map_err(db_error)?
            .map(|v| decode(request_id, v.value()))
            .transpose()
    }

    /// Whether the journal holds a job for `request_id` (readable or not).
    pub fn contains(&self, request_id: u64) -> Result<bool, JournalError> {
        let tx = self.db.begin_read().map_err(db_error)?;
        let table = tx.open_table(JOBS).map_err(db_error)?;
        Ok(table.get(request_id).map_err(db_error)?.is_some())
    }

    /// Every job not finished yet, by request id: what a restarted node resumes, and the
    /// unfinished ones this code cannot read (a newer version's, or damaged), each as its
    /// error: they stay in the journal, and keep the node from resuming none of the others —
    /// one unreadable entry must not leave every other commitment unrevealed. A finished job
    /// this code cannot read is passed over: it needs nothing more.
    pub fn unfinished(&self) -> Result<Unfinished, JournalError> {
        let tx = self.db.begin_read().map_err(db_error)?;
        let table = tx.open_table(JOBS).map_err(db_error)?;
        let mut unfinished = Unfinished::default();
        for entry in table.iter().map_err(db_error)? {
            let (key, value) = entry.map_err(db_error)?;
            match decode(key.value(), value.value()) {
                Ok(job) if matches!(job.state, JobState::Finished(_)) => {}
                Ok(job) => unfinished.jobs.push(job),
                Err(_) if finished_ending(value.value()).is_some() => {
                    tracing::warn!(
                        request_id = key.value(),
                        "a finished job this version cannot read is passed over"
                    );
                }
                Err(e) => {
                    if maybe_counted_uncommitted(value.value()) {
                        unfinished.unreadable_uncommitted += 1;
                    }
                    unfinished.unreadable.push(e);
                }
            }
        }
        Ok(unfinished)
    }

    /// Number of jobs by [`JobState::count_key`] (finished ones by how they ended).
    pub fn counts(&self) -> Result<BTreeMap<String, u64>, JournalError> {
        counts_in(&self.db.begin_read().map_err(db_error)?)
    }

    /// Jobs not committed yet: accepted (to compute) or computed (to commit). Those committed
    /// or submitted only wait for the chain.
    pub fn uncommitted(&self) -> Result<u64, JournalError> {
        let counts = self.counts()?;
        Ok([JobState::Accepted.name(), "computed"]
            .iter()
            .filter_map(|state| counts.get(*state))
            .sum())
    }

    /// Every job, by request id.
    pub fn jobs(&self) -> Result<Vec<Job>, JournalError> {
        self.jobs_page(None, usize::MAX)
    }

    /// At most `limit` jobs with request ids above `after`, by request id.
    pub fn jobs_page(&self, after: Option<u64>, limit: usize) -> Result<Vec<Job>, JournalError> {
        let tx = self.db.begin_read().map_err(db_error)?;
        let table = tx.open_table(JOBS).map_err(db_error)?;
        let first = match after {
            None => 0,
            Some(u64::MAX) => return Ok(Vec::new()),
            Some(after) => after + 1,
        };
        let mut jobs = Vec::new();
        for entry in table.range(first..).map_err(db_error)? {
            if jobs.len() == limit {
                break;
            }
            let (key, value) = entry.map_err(db_error)?;
            // A job this version cannot read (a newer one's, or damaged) is left out: `/health`
            // names the unfinished ones (`unreadable_jobs`).
            if let Ok(job) = decode(key.value(), value.value()) {
                jobs.push(job);
            }
        }
        Ok(jobs)
    }

    /// Deletes the jobs that finished before `cutoff` (unix seconds); returns how many. Their
    /// requests are over long since, so no watcher accepts them again.
    pub fn prune_finished_before(&self, cutoff: u64) -> Result<usize, JournalError> {
        let tx = self.db.begin_write().map_err(db_error)?;
        let pruned = {
            let mut finished = tx.open_table(FINISHED).map_err(db_error)?;
            let mut jobs = tx.open_table(JOBS).map_err(db_error)?;
            let mut counts = tx.open_table(COUNTS).map_err(db_error)?;
            let old: Vec<(u64, u64)> = finished
                .range(..(cutoff, 0))
                .map_err(db_error)?
                .map(|entry| entry.map(|(key, _)| key.value()))
                .collect::<Result<_, _>>()
                .map_err(db_error)?;
            for &(at, request_id) in &old {
                finished.remove((at, request_id)).map_err(db_error)?;
                let removed = jobs.remove(request_id).map_err(db_error)?;
                if let Some(value) = removed {
                    let key = match decode(request_id, value.value()) {
                        Ok(job) => job.state.count_key(),
                        Err(e) => match finished_ending(value.value()) {
                            Some(ending) => format!("finished ({ending})"),
                            None => return Err(e),
                        },
                    };
                    count(&mut counts, &key, -1)?;
                }
            }
            old.len()
        };
        tx.commit().map_err(db_error)?;
        Ok(pruned)
    }

    fn update(
        &self,
        request_id: u64,
        to: &'static str,
        next: impl FnOnce(&mut Job) -> Option<JobState>,
    ) -> Result<(), JournalError> {
        let tx = self.db.begin_write().map_err(db_error)?;
        {
            let mut table = tx.open_table(JOBS).map_err(db_error)?;
            let mut job = match table.get(request_id).map_err(db_error)? {
                Some(v) => decode(request_id, v.value())?,
                None => return Err(JournalError::Unknown(request_id)),
            };
            let from = job.state.name();
            let before = job.state.count_key();
            job.state = next(&mut job).ok_or(JournalError::BadTransition {
                request_id,
                from,
                to,
            })?;
            if matches!(job.state, JobState::Finished(_)) {
                let now = unix_now();
                job.finished_at = Some(now);
                let mut finished = tx.open_table(FINISHED).map_err(db_error)?;
                finished.insert((now, request_id), ()).map_err(db_error)?;
            }
            table
                .insert(request_id, encode(&job).as_slice())
                .map_err(db_error)?;
            let mut counts = tx.open_table(COUNTS).map_err(db_error)?;
            count(&mut counts, &before, -1)?;
            count(&mut counts, &job.state.count_key(), 1)?;
        }
        tx.commit().map_err(db_error)
    }
}

/// Adds `delta` to the count of `key`.
fn count(
    counts: &mut redb::Table<&'static str, u64>,
    key: &str,
    delta: i64,
) -> Result<(), JournalError> {
    let current = counts.get(key).map_err(db_error)?.map_or(0, |v| v.value());
    let next = current.saturating_add_signed(delta);
    counts.insert(key, next).map_err(db_error)?;
    Ok(())
}

/// Takes every permission on the file at `path` from the group and others (on Unix): the
/// journal holds results not revealed yet, which commit–reveal keeps secret until then.
fn restrict_to_owner(path: &Path) -> std::io::Result<()> {
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(path)?.permissions().mode();
        if mode & 0o077 != 0 {
            std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode & 0o700))?;
        }
    }
    #[cfg(not(unix))]
    let _ = path;
    Ok(())
}

/// Makes the creation of the file at `path` durable (on Unix; elsewhere a directory cannot
/// be opened to sync it).
fn sync_parent_directory(path: &Path) -> std::io::Result<()> {
    match path.parent() {
        Some(parent) if cfg!(unix) => {
            let parent = if parent.as_os_str().is_empty() {
                Path::new(".")
            } else {
                parent
            };
            std::fs::File::open(parent)?.sync_all()
        }
        _ => Ok(()),
    }
}

fn encode(job: &Job) -> Vec<u8> {
    serde_json::to_vec(job).expect("jobs serialise")
}

fn decode(request_id: u64, bytes: &[u8]) -> Result<Job, JournalError> {
    serde_json::from_slice(bytes).map_err(|e| JournalError::Corrupted(request_id, e.to_string()))
}

/// Whether an entry that does not decode as a [`Job`] may be counted as accepted or computed (in
/// [`Journal::uncommitted`]): its state says so, or it is not even JSON (a damaged entry's count
/// is its last state's, which cannot be told).
fn maybe_counted_uncommitted(bytes: &[u8]) -> bool {
    let Ok(value) = serde_json::from_slice::<serde_json::Value>(bytes) else {
        return true;
    };
    match value.get("state") {
        Some(serde_json::Value::String(name)) => name == "Accepted",
        Some(serde_json::Value::Object(variant)) => variant.contains_key("Computed"),
        _ => true,
    }
}

/// How a job entry that does not decode as a [`Job`] ended, when it is a finished one (its
/// state `{"Finished": ...}`): the ending's label (the variant's name in lower case, as
/// [`Finished::label`] names them).
fn finished_ending(bytes: &[u8]) -> Option<String> {
    let value: serde_json::Value = serde_json::from_slice(bytes).ok()?;
    let ending = match value.get("state")?.get("Finished")? {
        serde_json::Value::String(name) => name.clone(),
        serde_json::Value::Object(variant) if variant.len() == 1 => variant.keys().next()?.clone(),
        _ => return None,
    };
    Some(ending.to_lowercase())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_unreadable_entry_may_be_counted_uncommitted_by_its_state() {
        assert!(maybe_counted_uncommitted(br#"{"state":"Accepted","x":1}"#));
        assert!(maybe_counted_uncommitted(
            br#"{"state":{"Computed":{"v":2}}}"#
        ));
        assert!(
            maybe_counted_uncommitted(b"{not json"),
            "cannot tell: counted"
        );
        assert!(!maybe_counted_uncommitted(
            br#"{"state":{"Revealing":null}}"#
        ));
        assert!(!maybe_counted_uncommitted(br#"{"state":"Voting"}"#));
    }

    #[test]
    fn counts_are_read_without_writing_or_creating_the_journal() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("j.redb");
        assert_eq!(read_counts(&path).unwrap(), BTreeMap::new());
        assert!(!path.exists(), "a missing journal is not created");
        let journal = Journal::open(&path).unwrap();
        journal.accept(1, "m").unwrap();
        assert!(
            matches!(read_counts(&path), Err(JournalError::InUse)),
            "held open by a node"
        );
        drop(journal);
        let modified = std::fs::metadata(&path).unwrap().modified().unwrap();
        let counts = read_counts(&path).unwrap();
        assert_eq!(counts, BTreeMap::from([("accepted".to_string(), 1)]));
        assert_eq!(
            std::fs::metadata(&path).unwrap().modified().unwrap(),
            modified
        );
        // Read while another reader holds it: the node can still open it afterwards.
        Journal::open(&path).unwrap();
    }

    fn computed() -> Computed {
        Computed {
            output: "Paris".into(),
            result_digest: "ab".repeat(32),
            output_hash: "cd".repeat(32),
        }
    }

    #[test]
    fn a_journal_serves_one_deployment() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("journal.redb");
        {
            let journal = Journal::open(&path).unwrap();
            assert!(
                journal.accept(3, "m").unwrap(),
                "an unbound journal takes jobs"
            );
            journal
                .bind_deployment("testnet", "oracle.test", "n.test")
                .unwrap();
            journal
                .bind_deployment("testnet", "oracle.test", "n.test")
                .unwrap();
        }
        let journal = Journal::open(&path).unwrap();
        journal
            .bind_deployment("testnet", "oracle.test", "n.test")
            .unwrap();
        for (chain_id, contract, node) in [
            ("testnet", "oracle2.test", "n.test"),
            ("mainnet", "oracle.test", "n.test"),
            ("testnet", "oracle.test", "m.test"),
        ] {
            let error = journal
                .bind_deployment(chain_id, contract, node)
                .unwrap_err();
            let message = error.to_string();
            assert!(
                matches!(error, JournalError::OtherDeployment { .. })
                    && message
                        .contains("node n.test of oracle contract oracle.test on chain testnet")
                    && message.contains(&format!(
                        "node {node} of oracle contract {contract} on chain {chain_id}"
                    ))
                    && message.contains("Set `journal` in config.toml to a new file"),
                "{message}"
            );
        }
        assert!(
            journal.get(3).unwrap().is_some(),
            "a refused binding loses nothing"
        );
        journal
            .bind_deployment("testnet", "oracle.test", "n.test")
            .unwrap();
    }

    #[test]
    fn a_journal_bound_before_accounts_were_is_bound_to_its_node() {
        let dir = tempfile::tempdir().unwrap();
        let journal = Journal::open(&dir.path().join("journal.redb")).unwrap();
        let tx = journal.db.begin_write().unwrap();
        tx.open_table(DEPLOYMENT)
            .unwrap()
            .insert(
                DEPLOYMENT_KEY,
                "oracle contract oracle.test on chain testnet",
            )
            .unwrap();
        tx.commit().unwrap();
        journal
            .bind_deployment("testnet", "oracle.test", "n.test")
            .unwrap();
        assert!(matches!(
            journal.bind_deployment("testnet", "oracle.test", "m.test"),
            Err(JournalError::OtherDeployment { .. })
        ));
        assert!(matches!(
            journal.bind_deployment("testnet", "oracle2.test", "n.test"),
            Err(JournalError::OtherDeployment { .. })
        ));
    }

    /// A finished job written by a newer version (an ending this one does not know) keeps no
    /// committed job from resuming, and is pruned like any finished one; an unfinished entry
    /// that does not decode still stops the node.
    #[test]
    fn a_finished_job_this_version_cannot_read_is_passed_over() {
        let dir = tempfile::tempdir().unwrap();
        let journal = Journal::open(&dir.path().join("journal.redb")).unwrap();
        journal.accept(1, "m").unwrap();
        let computed = Computed {
            output: "Paris".into(),
            result_digest: "ab".into(),
            output_hash: "cd".into(),
        };
        journal.record_computed(1, computed).unwrap();
        journal.record_committed(1).unwrap();
        let newer = br#"{"request_id":2,"model_id":"m","state":{"Finished":{"Vetoed":"x"}},"finished_at":5}"#;
        let tx = journal.db.begin_write().unwrap();
        {
            tx.open_table(JOBS)
                .unwrap()
                .insert(2, newer.as_slice())
                .unwrap();
            tx.open_table(FINISHED).unwrap().insert((5, 2), ()).unwrap();
            let mut counts = tx.open_table(COUNTS).unwrap();
            count(&mut counts, "finished (vetoed)", 1).unwrap();
        }
        tx.commit().unwrap();

        let ids: Vec<u64> = journal
            .unfinished()
            .unwrap()
            .jobs
            .iter()
            .map(|job| job.request_id)
            .collect();
        assert_eq!(ids, [1]);
        let listed: Vec<u64> = journal
            .jobs_page(None, 10)
            .unwrap()
            .iter()
            .map(|job| job.request_id)
            .collect();
        assert_eq!(listed, [1], "`/jobs` leaves it out");
        assert_eq!(journal.prune_finished_before(10).unwrap(), 1);
        let counts = journal.counts().unwrap();
        assert_eq!(counts.get("finished (vetoed)").copied().unwrap_or(0), 0);
        assert!(journal.get(1).unwrap().is_some());

        let tx = journal.db.begin_write().unwrap();
        tx.open_table(JOBS)
            .unwrap()
            .insert(3, br#"{"request_id":3,"state":{"Voting":1}}"#.as_slice())
            .unwrap();
        tx.commit().unwrap();
        // An unfinished one it cannot read is reported, and keeps job 1 from resuming no more.
        let unfinished = journal.unfinished().unwrap();
        let (jobs, unreadable) = (unfinished.jobs, unfinished.unreadable);
        // Its state is none this version knows: not counted as accepted or computed.
        assert_eq!(unfinished.unreadable_uncommitted, 0);
        assert_eq!(jobs.len(), 1);
        assert!(
            matches!(&unreadable[..], [JournalError::Corrupted(3, _)]),
            "{unreadable:?}"
        );
        assert!(journal.contains(3).unwrap());
        assert!(!journal.contains(4).unwrap());
        let listed: Vec<u64> = journal
            .jobs_page(None, 10)
            .unwrap()
            .iter()
            .map(|job| job.request_id)
            .collect();
        assert_eq!(listed, [1], "`/jobs` leaves it out too");
    }

    #[test]
    fn a_job_walks_through_its_states_and_survives_reopening() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("journal.redb");
        {
            let journal = Journal::open(&path).unwrap();
            assert!(journal.accept(7, "model").unwrap());
            assert!(
                !journal.accept(7, "model").unwrap(),
                "accepting twice adds nothing"
            );
            journal.record_computed(7, computed()).unwrap();
            journal.record_committed(7).unwrap();
            assert_eq!(journal.record_submitted(7, "tx1", "AQ==").unwrap(), 1);
            assert!(journal.accept(8, "model").unwrap());
            assert!(journal.accept(9, "model").unwrap());
            journal.record_computed(9, computed()).unwrap();
            journal.record_committed(9).unwrap();
        }
        let journal = Journal::open(&path).unwrap();
        assert_eq!(
            journal.get(9).unwrap().unwrap().state,
            JobState::Committed(computed()),
            "a committed job resumes at the reveal"
        );
        journal
            .record_finished(9, Finished::Late("timed out".into()))
            .unwrap();
        let job = journal.get(7).unwrap().unwrap();
        assert_eq!(
            job.state,
            JobState::Submitted {
                computed: computed(),
                tx_hash: "tx1".into(),
                signed_tx: "AQ==".into(),
                attempts: 1
            }
        );
        assert_eq!(journal.record_submitted(7, "tx2", "Ag==").unwrap(), 2);
        let ids: Vec<u64> = journal
            .unfinished()
            .unwrap()
            .jobs
            .iter()
            .map(|j| j.request_id)
            .collect();
        assert_eq!(ids, vec![7, 8]);
        assert_eq!(
            journal.uncommitted().unwrap(),
            1,
            "8 is accepted, 7 submitted"
        );
        journal.record_finished(7, Finished::Attested).unwrap();
        assert_eq!(
            journal.get(7).unwrap().unwrap().result_digest,
            Some("ab".repeat(32)),
            "a finished job keeps its digest"
        );
        assert_eq!(journal.unfinished().unwrap().jobs.len(), 1);
        let counts = journal.counts().unwrap();
        assert_eq!(counts.get("finished (attested)"), Some(&1));
        assert_eq!(counts.get("accepted"), Some(&1));
        assert_eq!(counts.get("finished (late)"), Some(&1));
        assert_eq!(counts.len(), 3, "{counts:?}");
    }

    /// The counts as a scan of every job gives them.
    fn scanned(journal: &Journal) -> BTreeMap<String, u64> {
        let mut counts = BTreeMap::new();
        for job in journal.jobs().unwrap() {
            *counts.entry(job.state.count_key()).or_insert(0) += 1;
        }
        counts
    }

    #[test]
    fn pages_counts_and_pruning() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("j.redb");
        let journal = Journal::open(&path).unwrap();
        for id in 1..=6 {
            journal.accept(id, "m").unwrap();
        }
        journal.record_computed(2, computed()).unwrap();
        journal.record_finished(3, Finished::Attested).unwrap();
        journal
            .record_finished(4, Finished::Late("resolved".into()))
            .unwrap();
        assert_eq!(journal.counts().unwrap(), scanned(&journal));
        assert_eq!(journal.counts().unwrap()["accepted"], 3);

        let ids = |jobs: Vec<Job>| jobs.iter().map(|j| j.request_id).collect::<Vec<_>>();
        assert_eq!(ids(journal.jobs_page(None, 4).unwrap()), [1, 2, 3, 4]);
        assert_eq!(ids(journal.jobs_page(Some(4), 4).unwrap()), [5, 6]);
        assert!(journal.jobs_page(Some(6), 4).unwrap().is_empty());
        assert!(journal.jobs_page(Some(u64::MAX), 4).unwrap().is_empty());

        assert_eq!(journal.prune_finished_before(unix_now() - 60).unwrap(), 0);
        assert_eq!(journal.prune_finished_before(unix_now() + 1).unwrap(), 2);
        assert_eq!(ids(journal.jobs().unwrap()), [1, 2, 5, 6]);
        drop(journal);
        let journal = Journal::open(&path).unwrap();
        assert_eq!(journal.counts().unwrap(), scanned(&journal));
        assert!(!journal
            .counts()
            .unwrap()
            .keys()
            .any(|k| k.starts_with("finished")));
    }

    #[test]
    fn a_journal_from_before_the_counts_gets_them_on_opening() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("old.redb");
        {
            let db = Database::create(&path).unwrap();
            let tx = db.begin_write().unwrap();
            {
                let mut jobs = tx.open_table(JOBS).unwrap();
                for (id, state) in [
                    (1, JobState::Accepted),
                    (2, JobState::Finished(Finished::Attested)),
                ] {
                    let job = Job {
                        request_id: id,
                        model_id: "m".into(),
                        state,
                        result_digest: None,
                        finished_at: None,
                    };
                    jobs.insert(id, encode(&job).as_slice()).unwrap();
                }
            }
            tx.commit().unwrap();
        }
        let journal = Journal::open(&path).unwrap();
        assert_eq!(journal.counts().unwrap(), scanned(&journal));
        assert!(journal.get(2).unwrap().unwrap().finished_at.is_some());
        assert_eq!(journal.prune_finished_before(unix_now() + 1).unwrap(), 1);
        assert_eq!(journal.jobs().unwrap().len(), 1);
    }

    /// One unreadable entry in a journal from before the counts keeps the node from starting
    /// no more than it keeps the other jobs from resuming: it is left out of the counts.
    #[test]
    fn a_journal_from_before_the_counts_with_an_unreadable_entry_opens() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("old.redb");
        {
            let db = Database::create(&path).unwrap();
            let tx = db.begin_write().unwrap();
            {
                let mut jobs = tx.open_table(JOBS).unwrap();
                let job = Job {
                    request_id: 1,
                    model_id: "m".into(),
                    state: JobState::Committed(computed()),
                    result_digest: None,
                    finished_at: None,
                };
                jobs.insert(1, encode(&job).as_slice()).unwrap();
                jobs.insert(2, b"{not json".as_slice()).unwrap();
            }
            tx.commit().unwrap();
        }
        let journal = Journal::open(&path).unwrap();
        assert_eq!(
            journal.counts().unwrap(),
            BTreeMap::from([("committed".to_string(), 1)])
        );
        let unfinished = journal.unfinished().unwrap();
        assert_eq!(unfinished.jobs.len(), 1);
        assert!(
            matches!(&unfinished.unreadable[..], [JournalError::Corrupted(2, _)]),
            "{:?}",
            unfinished.unreadable
        );
    }

    #[cfg(unix)]
    #[test]
    fn the_journal_is_readable_by_its_owner_only() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("j.redb");
        let mode = |path: &Path| std::fs::metadata(path).unwrap().permissions().mode() & 0o777;
        drop(Journal::open(&path).unwrap());
        assert_eq!(mode(&path), 0o600);
        // One an older version left readable by others is restricted when the node opens it.
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o644)).unwrap();
        drop(Journal::open(&path).unwrap());
        assert_eq!(mode(&path), 0o600);
    }

    #[test]
    fn late_and_refused_endings_are_kept_and_labelled_apart() {
        let dir = tempfile::tempdir().unwrap();
        let journal = Journal::open(&dir.path().join("j.redb")).unwrap();
        let endings = [
            Finished::Attested,
            Finished::Late("the request was resolved before this node attested".into()),
            Finished::Refused("Smart contract panicked: invalid signature".into()),
            Finished::Missed("the request no longer exists".into()),
        ];
        for (id, ending) in (1..).zip(&endings) {
            journal.accept(id, "m").unwrap();
            journal.record_finished(id, ending.clone()).unwrap();
        }
        for (id, ending) in (1..).zip(&endings) {
            let job = journal.get(id).unwrap().unwrap();
            assert_eq!(job.state, JobState::Finished(ending.clone()));
        }
        let labels: Vec<_> = endings.iter().map(Finished::label).collect();
        assert_eq!(labels, ["attested", "late", "refused", "missed"]);
        assert!(journal.unfinished().unwrap().jobs.is_empty());
    }

    #[test]
    fn impossible_transitions_are_refused_and_change_nothing() {
        let dir = tempfile::tempdir().unwrap();
        let journal = Journal::open(&dir.path().join("j.redb")).unwrap();
        assert!(matches!(
            journal.record_computed(1, computed()),
            Err(JournalError::Unknown(1))
        ));
        journal.accept(1, "m").unwrap();
        let err = journal.record_submitted(1, "tx", "").unwrap_err();
        assert!(
            matches!(
                err,
                JournalError::BadTransition {
                    from: "accepted",
                    ..
                }
            ),
            "{err}"
        );
        journal.record_computed(1, computed()).unwrap();
        assert!(journal.record_computed(1, computed()).is_err());
        let err = journal.record_submitted(1, "tx", "").unwrap_err();
        assert!(
            matches!(
                err,
                JournalError::BadTransition {
                    from: "computed",
                    ..
                }
            ),
            "an attestation is only sent after its commitment: {err}"
        );
        journal.record_committed(1).unwrap();
        assert!(journal.record_committed(1).is_err(), "committed once");
        journal
            .record_finished(1, Finished::Missed("expired".into()))
            .unwrap();
        assert!(journal.record_finished(1, Finished::Attested).is_err());
        assert_eq!(
            journal.get(1).unwrap().unwrap().state,
            JobState::Finished(Finished::Missed("expired".into()))
        );
    }
}
