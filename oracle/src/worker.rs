//! The engine worker: one thread that owns the deterministic engine and runs queued jobs in
//! batches. Batching is safe because the engine is batch-invariant: a job's bits do not depend
//! on which other jobs share its batch. The queue is bounded, so callers feel back-pressure.
//!
//! Failures are told apart by whose fault they are: the request's (the same on every honest
//! node, so the job is over) or this machine's (a device or thread failure, a panic: the job
//! may succeed if tried again). A batch that panics is run again one job at a time, so a
//! request that makes the engine panic fails alone and the others still get their answers.

use kernels::engine::{Engine, EngineError, Generation, Request};
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::time::{Duration, Instant};
use thiserror::Error;
use tokio::sync::{mpsc, oneshot};

#[derive(Debug, Error, Clone, PartialEq, Eq)]
pub enum WorkerError {
    #[error("the engine worker has stopped")]
    Stopped,
    /// The request cannot be computed: every honest node fails it the same way.
    #[error("the request cannot be computed: {0}")]
    Request(String),
    /// This machine failed (device, threads, a panic in the engine); trying again may succeed.
    #[error("the engine failed on this machine: {0}")]
    Machine(String),
}

impl WorkerError {
    /// Sorts an engine error by whose fault it is (`EngineError::is_caused_by_request`): the
    /// request's (an empty or too long prompt, its sampling parameters or schema, tokens the
    /// model does not have, a non-finite value: the same bits on every machine, SPEC.md) or
    /// this machine's (the device, the thread pool, the floating-point mode, I/O).
    pub fn classify(error: &EngineError) -> Self {
        if error.is_caused_by_request() {
            Self::Request(error.to_string())
        } else {
            Self::Machine(error.to_string())
        }
    }
}

/// How the worker groups jobs.
#[derive(Debug, Clone, Copy)]
pub struct BatchPolicy {
    /// Most jobs in one batch.
    pub max_batch: usize,
    /// How long the first job of a batch waits for company.
    pub window: Duration,
    /// Jobs that may wait in the queue before callers are held back.
    pub queue: usize,
}

impl Default for BatchPolicy {
    fn default() -> Self {
        Self {
            max_batch: 8,
            window: Duration::from_millis(20),
            queue: 64,
        }
    }
}

/// What one batch did, for metrics.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct BatchReport {
    pub jobs: usize,
    pub generated_tokens: usize,
    pub elapsed: Duration,
}

type Reply = oneshot::Sender<Result<Generation, WorkerError>>;

/// A handle to the worker; cheap to clone. The worker stops when every handle is dropped.
#[derive(Clone)]
pub struct EngineWorker {
    jobs: mpsc::Sender<(Request, Reply)>,
}

impl EngineWorker {
    /// Starts the worker thread; `on_batch` sees every batch it runs.
    pub fn spawn(
        engine: Engine,
        policy: BatchPolicy,
        on_batch: impl Fn(BatchReport) + Send + 'static,
    ) -> Self {
        let (jobs, queue) = mpsc::channel(policy.queue.max(1));
        std::thread::Builder::new()
            .name("engine-worker".into())
            .spawn(move || run(engine, policy, queue, on_batch))
            .expect("spawning the engine worker thread");
        Self { jobs }
    }

    /// Queues `request` (waiting while the queue is full) and returns its generation.
    pub async fn infer(&self, request: Request) -> Result<Generation, WorkerError> {
        let (reply, answer) = oneshot::channel();
        self.jobs
            .send((request, reply))
            .await
            .map_err(|_| WorkerError::Stopped)?;
        answer.await.map_err(|_| WorkerError::Stopped)?
    }
}

fn run(
    engine: Engine,
    policy: BatchPolicy,
    mut queue: mpsc::Receiver<(Request, Reply)>,
    on_batch: impl Fn(BatchReport),
) {
    // This thread inherits the float mode of the one that spawned it; the engine only checks.
    kernels::engine::use_spec_float_mode();
    while let Some(first) = queue.blocking_recv() {
        let mut batch = vec![first];
        let deadline = Instant::now() + policy.window;
        while batch.len() < policy.max_batch {
            match queue.try_recv() {
                Ok(job) => batch.push(job),
                Err(mpsc::error::TryRecvError::Empty) if Instant::now() < deadline => {
                    std::thread::sleep(Duration::from_millis(1));
                }
                Err(_) => break,
            }
        }
        let (requests, replies): (Vec<Request>, Vec<Reply>) = batch.into_iter().unzip();
        let started = Instant::now();
        let results = run_batch(&requests, |batch| engine.generate_batch(batch));
        let generated_tokens = results
            .iter()
            .filter_map(|r| r.as_ref().ok())
            .map(|g| g.output_tokens.len())
            .sum();
        on_batch(BatchReport {
            jobs: requests.len(),
            generated_tokens,
            elapsed: started.elapsed(),
        });
        for (reply, result) in replies.into_iter().zip(results) {
            // A caller that went away no longer wants its answer.
            let _ = reply.send(result);
        }
    }
}

/// Runs `requests` as one batch with `generate`. The engine fails only the jobs that fail
/// alone, so each result is that job's own; a panic re-runs the jobs one at a time (batch
/// invariance: the same bits), so only a job that panics alone fails (as this machine's fault,
/// to be tried again) and the others get their answers. The worker keeps running either way.
fn run_batch(
    requests: &[Request],
    generate: impl Fn(&[Request]) -> Vec<Result<Generation, EngineError>>,
) -> Vec<Result<Generation, WorkerError>> {
    let classify =
        |result: Result<Generation, EngineError>| result.map_err(|e| WorkerError::classify(&e));
    match guarded(|| generate(requests)) {
        Ok(results) => results.into_iter().map(classify).collect(),
        Err(panic) if requests.len() == 1 => vec![Err(panic)],
        Err(_) => {
            tracing::warn!(
                jobs = requests.len(),
                "the engine panicked on a batch; running its jobs one at a time"
            );
            requests
                .iter()
                .map(|request| {
                    let mut alone = guarded(|| generate(std::slice::from_ref(request)))?;
                    alone.pop().map(classify).unwrap_or_else(|| {
                        Err(WorkerError::Machine("the engine returned no result".into()))
                    })
                })
                .collect()
        }
    }
}

/// Runs `work`, turning a panic into this machine's failure.
fn guarded<T>(work: impl FnOnce() -> T) -> Result<T, WorkerError> {
    catch_unwind(AssertUnwindSafe(work)).map_err(|panic| {
        let message = panic
            .downcast_ref::<&str>()
            .map(|s| s.to_string())
            .or_else(|| panic.downcast_ref::<String>().cloned())
            .unwrap_or_else(|| "no message".into());
        tracing::error!(%message, "the engine panicked");
        WorkerError::Machine(format!("the engine panicked: {message}"))
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use kernels::device::DeviceError;
    use kernels::engine::Prompt;
    use kernels::model::ModelError;
    use kernels::quant::KernelPath;
    use kernels::sampling::SamplingParams;
    use kernels::tiny_model::TinyModel;
    use std::sync::{Arc, Mutex};

    fn request(i: u64) -> Request {
        Request {
            prompt: Prompt::Text(format!("job number {i} is here")),
            params: SamplingParams {
                temperature: 0.7,
                max_tokens: 5,
                seed: i,
                ..SamplingParams::default()
            },
            stream_id: i.to_le_bytes().to_vec(),
            stop: Vec::new(),
            prefill_chunk: None,
            constraint: None,
        }
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn concurrent_jobs_are_batched_and_give_the_bits_of_running_alone() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("tiny.gguf");
        TinyModel::default().write(&path).unwrap();
        let alone: Vec<[u8; 32]> = {
            let engine = Engine::load(&path, KernelPath::detect(), 1).unwrap();
            (0..6)
                .map(|i| engine.generate(&request(i)).unwrap().digest)
                .collect()
        };
        let reports = Arc::new(Mutex::new(Vec::new()));
        let seen = reports.clone();
        let worker = EngineWorker::spawn(
            Engine::load(&path, KernelPath::detect(), 2).unwrap(),
            BatchPolicy {
                max_batch: 4,
                window: Duration::from_millis(200),
                queue: 2,
            },
            move |report| seen.lock().unwrap().push(report),
        );
        let handles: Vec<_> = (0..6)
            .map(|i| {
                let worker = worker.clone();
                tokio::spawn(async move { worker.infer(request(i)).await.unwrap().digest })
            })
            .collect();
        let mut batched = Vec::new();
        for handle in handles {
            batched.push(handle.await.unwrap());
        }
        assert_eq!(batched, alone);
        let reports = reports.lock().unwrap();
        assert_eq!(reports.iter().map(|r| r.jobs).sum::<usize>(), 6);
        assert!(reports.iter().all(|r| r.jobs <= 4));
        assert!(reports.iter().any(|r| r.jobs > 1), "{reports:?}");
    }

    #[tokio::test]
    async fn a_failing_job_fails_alone() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("tiny.gguf");
        TinyModel::default().write(&path).unwrap();
        let worker = EngineWorker::spawn(
            Engine::load(&path, KernelPath::detect(), 1).unwrap(),
            BatchPolicy::default(),
            |_| {},
        );
        let empty = Request {
            prompt: Prompt::Tokens(Vec::new()),
            ..request(0)
        };
        let (bad, good) = tokio::join!(worker.infer(empty), worker.infer(request(1)));
        assert!(matches!(bad, Err(WorkerError::Request(m)) if m.contains("empty")));
        assert!(good.is_ok());
    }

    /// Runs batches on `engine`, panicking (as a kernel bug would) on any batch that holds
    /// the request with seed [`CULPRIT`].
    fn panicking_on_culprit(
        engine: &Engine,
    ) -> impl Fn(&[Request]) -> Vec<Result<Generation, EngineError>> + '_ {
        |batch| {
            assert!(
                batch.iter().all(|r| r.params.seed != CULPRIT),
                "index out of bounds"
            );
            engine.generate_batch(batch)
        }
    }

    const CULPRIT: u64 = 2;

    #[test]
    fn a_panic_fails_only_the_job_that_panics_alone() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("tiny.gguf");
        TinyModel::default().write(&path).unwrap();
        let engine = Engine::load(&path, KernelPath::detect(), 1).unwrap();
        let requests: Vec<Request> = (0..4).map(request).collect();
        let results = run_batch(&requests, panicking_on_culprit(&engine));
        assert_eq!(results.len(), 4);
        for (i, result) in results.iter().enumerate() {
            if i as u64 == CULPRIT {
                assert!(
                    matches!(result, Err(WorkerError::Machine(m)) if m.contains("index out of bounds")),
                    "{result:?}"
                );
            } else {
                let alone = engine.generate(&requests[i]).unwrap();
                assert_eq!(result.as_ref().unwrap().digest, alone.digest, "job {i}");
            }
        }
    }

    #[test]
    fn a_batch_that_always_panics_fails_every_job_as_retryable() {
        let requests: Vec<Request> = (0..3).map(request).collect();
        let results = run_batch(&requests, |_| panic!("device lost"));
        assert_eq!(results.len(), 3);
        for result in results {
            assert!(
                matches!(&result, Err(WorkerError::Machine(m)) if m.contains("device lost")),
                "{result:?}"
            );
        }
    }

    #[test]
    fn errors_are_sorted_by_whose_fault_they_are() {
        use kernels::matmul::ComputeError;
        use kernels::sampling::SamplingError;
        let by_request = [
            EngineError::EmptyPrompt,
            EngineError::TooLong {
                prompt: 9,
                max_tokens: 9,
                context: 10,
            },
            EngineError::Sampling(SamplingError::OutOfRange { id: 7, len: 3 }),
            EngineError::Model(ModelError::NonFinite("logits")),
            EngineError::Model(ModelError::TokenOutOfRange { id: 9, vocab: 3 }),
            EngineError::Device(DeviceError::Model(ModelError::NonFinite(
                "attention scores",
            ))),
        ];
        for error in &by_request {
            assert!(
                matches!(WorkerError::classify(error), WorkerError::Request(_)),
                "{error}"
            );
        }
        let by_machine = [
            EngineError::Device(DeviceError::Backend("CUDA_ERROR_OUT_OF_MEMORY".into())),
            EngineError::Compute(ComputeError::Threads {
                threads: 4,
                reason: "no threads".into(),
            }),
            EngineError::FloatModeOffSpec,
        ];
        for error in &by_machine {
            assert!(
                matches!(WorkerError::classify(error), WorkerError::Machine(_)),
                "{error}"
            );
        }
    }
}
