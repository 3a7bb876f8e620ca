//! The node's journal: every job it accepted and how far it got, in an embedded database. Each
//! change is one durable transaction, so after a crash (kill -9 at any point) the node knows
//! which jobs to compute, which to submit and which are finished — nothing lost, nothing done
//! twice.

use redb::{Database, ReadableDatabase, ReadableTable, TableDefinition};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::path::Path;
use thiserror::Error;

const JOBS: TableDefinition<u64, &[u8]> = TableDefinition::new("jobs");

#[derive(Debug, Error)]
pub enum JournalError {
    #[error("journal database: {0}")]
    Database(String),
    #[error("journal entry for request {0} is corrupted: {1}")]
    Corrupted(u64, String),
    #[error("request {0} is not in the journal")]
    Unknown(u64),
    #[error("request {request_id}: cannot go from {from} to {to}")]
    BadTransition {
        request_id: u64,
        from: &'static str,
        to: &'static str,
    },
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
    /// The request was resolved or timed out before this node attested, so it did not. The
    /// contract would still take a late attestation, but an honest late one earns nothing (the
    /// fee went to the quorum) and costs gas, and a different one is slashed: skipping is right.
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
    /// Computed; not submitted yet.
    Computed(Computed),
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
    pub fn name(&self) -> &'static str {
        match self {
            JobState::Accepted => "accepted",
            JobState::Computed(_) => "computed",
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
}

/// The journal database.
pub struct Journal {
    db: Database,
}

impl Journal {
    /// Opens (or creates) the journal at `path`.
    pub fn open(path: &Path) -> Result<Self, JournalError> {
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent).map_err(db_error)?;
        }
        let db = Database::create(path).map_err(db_error)?;
        let tx = db.begin_write().map_err(db_error)?;
        tx.open_table(JOBS).map_err(db_error)?;
        tx.commit().map_err(db_error)?;
        Ok(Self { db })
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
                };
                table
                    .insert(request_id, encode(&job).as_slice())
                    .map_err(db_error)?;
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

    /// Records that an attestation transaction is being sent; call it before sending, so a crash
    /// right after sending is known to have (maybe) sent it.
    pub fn record_submitted(
        &self,
        request_id: u64,
        tx_hash: &str,
        signed_tx: &str,
    ) -> Result<u32, JournalError> {
        let mut attempts = 0;
        self.update(request_id, "submitted", |job| {
            let (computed, previous) = match &job.state {
                JobState::Computed(c) => (c.clone(), 0),
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

    /// Every job not finished yet, by request id: what a restarted node resumes.
    pub fn unfinished(&self) -> Result<Vec<Job>, JournalError> {
        Ok(self
            .jobs()?
            .into_iter()
            .filter(|job| !matches!(job.state, JobState::Finished(_)))
            .collect())
    }

    /// Number of jobs in each state.
    pub fn counts(&self) -> Result<BTreeMap<&'static str, u64>, JournalError> {
        let mut counts = BTreeMap::new();
        for job in self.jobs()? {
            *counts.entry(job.state.name()).or_insert(0) += 1;
        }
        Ok(counts)
    }

    /// Every job, by request id.
    pub fn jobs(&self) -> Result<Vec<Job>, JournalError> {
        let tx = self.db.begin_read().map_err(db_error)?;
        let table = tx.open_table(JOBS).map_err(db_error)?;
        let mut jobs = Vec::new();
        for entry in table.iter().map_err(db_error)? {
            let (key, value) = entry.map_err(db_error)?;
            jobs.push(decode(key.value(), value.value())?);
        }
        Ok(jobs)
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
            job.state = next(&mut job).ok_or(JournalError::BadTransition {
                request_id,
                from,
                to,
            })?;
            table
                .insert(request_id, encode(&job).as_slice())
                .map_err(db_error)?;
        }
        tx.commit().map_err(db_error)
    }
}

fn encode(job: &Job) -> Vec<u8> {
    serde_json::to_vec(job).expect("jobs serialise")
}

fn decode(request_id: u64, bytes: &[u8]) -> Result<Job, JournalError> {
    serde_json::from_slice(bytes).map_err(|e| JournalError::Corrupted(request_id, e.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn computed() -> Computed {
        Computed {
            output: "Paris".into(),
            result_digest: "ab".repeat(32),
            output_hash: "cd".repeat(32),
        }
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
            assert_eq!(journal.record_submitted(7, "tx1", "AQ==").unwrap(), 1);
            assert!(journal.accept(8, "model").unwrap());
        }
        let journal = Journal::open(&path).unwrap();
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
            .iter()
            .map(|j| j.request_id)
            .collect();
        assert_eq!(ids, vec![7, 8]);
        journal.record_finished(7, Finished::Attested).unwrap();
        assert_eq!(
            journal.get(7).unwrap().unwrap().result_digest,
            Some("ab".repeat(32)),
            "a finished job keeps its digest"
        );
        assert_eq!(journal.unfinished().unwrap().len(), 1);
        let counts = journal.counts().unwrap();
        assert_eq!(counts.get("finished"), Some(&1));
        assert_eq!(counts.get("accepted"), Some(&1));
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
        assert!(journal.unfinished().unwrap().is_empty());
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
