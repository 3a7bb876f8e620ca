//! The engine worker: one thread that owns the deterministic engine and runs queued jobs in
//! one running batch that jobs join and leave at every step (continuous batching). Batching is
//! safe because the engine is batch-invariant: a job's bits do not depend on which other jobs
//! share its batch, or when it joined. The queue is bounded, so callers feel back-pressure.
//!
//! Failures are told apart by whose fault they are: the request's (the same on every honest
//! node, so the job is over) or this machine's (a device or thread failure, a panic: the job
//! may succeed if tried again). A batch that panics is run again one job at a time, so a
//! request that makes the engine panic fails alone and the others still get their answers.

use kernels::engine::{Batch, Engine, EngineError, Generation, Request, Round};
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
    /// Most jobs running together.
    pub max_batch: usize,
    /// How long a job that finds the worker idle waits for company.
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

/// What one round of the running batch did, for metrics.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct BatchReport {
    /// Jobs that took a step.
    pub jobs: usize,
    /// Tokens sampled.
    pub generated_tokens: usize,
    pub elapsed: Duration,
}

type Reply = oneshot::Sender<Result<Generation, WorkerError>>;
type Job = (Request, Reply);

/// A handle to the worker; cheap to clone. The worker stops when every handle is dropped.
#[derive(Clone)]
pub struct EngineWorker {
    jobs: mpsc::Sender<Job>,
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
    queue: mpsc::Receiver<Job>,
    on_batch: impl Fn(BatchReport),
) {
    // This thread inherits the float mode of the one that spawned it; the engine only checks.
    kernels::engine::use_spec_float_mode();
    serve(
        &engine,
        policy,
        queue,
        on_batch,
        |batch| batch.step(),
        |request| engine.generate(request),
    );
}

/// Runs the jobs of `queue` until every handle is gone, in one running batch (continuous
/// batching): waiting jobs join it before each round, up to `max_batch`, and each job is
/// answered as soon as it ends, so a short job never waits for a long one. A job that arrives
/// to an idle worker waits up to the policy's window for company. Each round runs with `step`;
/// when a round panics, the batch's jobs run again one at a time with `alone` (batch
/// invariance: the same bits), so only a job that panics alone fails (as this machine's fault,
/// to be tried again). The worker keeps running either way.
fn serve<'e>(
    engine: &'e Engine,
    policy: BatchPolicy,
    mut queue: mpsc::Receiver<Job>,
    on_batch: impl Fn(BatchReport),
    step: impl Fn(&mut Batch<'e, Reply>) -> Round<Reply>,
    alone: impl Fn(&Request) -> Result<Generation, EngineError>,
) {
    let mut batch = engine.batch();
    loop {
        if batch.is_empty() {
            let Some(first) = queue.blocking_recv() else {
                return;
            };
            admit(&mut batch, first);
            let deadline = Instant::now() + policy.window;
            while batch.len() < policy.max_batch {
                match queue.try_recv() {
                    Ok(job) => admit(&mut batch, job),
                    Err(mpsc::error::TryRecvError::Empty) if Instant::now() < deadline => {
                        std::thread::sleep(Duration::from_millis(1));
                    }
                    Err(_) => break,
                }
            }
        } else {
            while batch.len() < policy.max_batch {
                match queue.try_recv() {
                    Ok(job) => admit(&mut batch, job),
                    Err(_) => break,
                }
            }
        }
        if batch.is_empty() {
            continue;
        }
        let started = Instant::now();
        match guarded(|| step(&mut batch)) {
            Ok(round) => {
                on_batch(BatchReport {
                    jobs: round.requests,
                    generated_tokens: round.sampled,
                    elapsed: started.elapsed(),
                });
                for (reply, result) in round.ended {
                    answer(reply, result.map_err(|e| WorkerError::classify(&e)));
                }
            }
            Err(panic) => {
                let jobs = std::mem::replace(&mut batch, engine.batch()).abandon();
                if let [_] = jobs.as_slice() {
                    let (reply, _) = jobs.into_iter().next().expect("one job");
                    answer(reply, Err(panic));
                    continue;
                }
                tracing::warn!(
                    jobs = jobs.len(),
                    "the engine panicked on a batch; running its jobs one at a time"
                );
                for (reply, request) in jobs {
                    let result = guarded(|| alone(&request))
                        .and_then(|result| result.map_err(|e| WorkerError::classify(&e)));
                    answer(reply, result);
                }
            }
        }
    }
}

/// Adds `job` to the running batch, or answers it at once when it cannot start.
fn admit(batch: &mut Batch<'_, Reply>, (request, reply): Job) {
    if let Err((reply, e)) = batch.admit(reply, request) {
        answer(reply, Err(WorkerError::classify(&e)));
    }
}

fn answer(reply: Reply, result: Result<Generation, WorkerError>) {
    // A caller that went away no longer wants its answer.
    let _ = reply.send(result);
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
    use std::path::Path;
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

    const CULPRIT: u64 = 2;

    /// Serves `jobs` (sent all at once, so they share a batch) on the tiny model at `path`,
    /// with rounds that panic from round `panic_from` on (as a kernel bug would) and runs
    /// alone that panic for the request with seed [`CULPRIT`]; returns each job's result.
    fn serve_panicking(
        path: &Path,
        jobs: Vec<Request>,
        panic_from: usize,
    ) -> Vec<Result<Generation, WorkerError>> {
        let engine = Engine::load(path, KernelPath::detect(), 1).unwrap();
        let (sender, queue) = mpsc::channel(jobs.len());
        let answers: Vec<_> = jobs
            .into_iter()
            .map(|request| {
                let (reply, answer) = oneshot::channel();
                sender.try_send((request, reply)).unwrap();
                answer
            })
            .collect();
        drop(sender);
        let rounds = std::cell::Cell::new(0);
        serve(
            &engine,
            BatchPolicy::default(),
            queue,
            |_| {},
            |batch| {
                rounds.set(rounds.get() + 1);
                assert!(rounds.get() < panic_from, "index out of bounds");
                batch.step()
            },
            |request| {
                assert!(request.params.seed != CULPRIT, "index out of bounds");
                engine.generate(request)
            },
        );
        answers
            .into_iter()
            .map(|answer| answer.blocking_recv().unwrap())
            .collect()
    }

    #[test]
    fn a_panic_fails_only_the_job_that_panics_alone() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("tiny.gguf");
        TinyModel::default().write(&path).unwrap();
        let engine = Engine::load(&path, KernelPath::detect(), 1).unwrap();
        let requests: Vec<Request> = (0..4).map(request).collect();
        // The first round, and the third: mid-generation, when each job has cached steps.
        for panic_from in [1, 3] {
            let results = serve_panicking(&path, requests.clone(), panic_from);
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
    }

    #[test]
    fn a_batch_that_always_panics_fails_every_job_as_retryable() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("tiny.gguf");
        TinyModel::default().write(&path).unwrap();
        let requests: Vec<Request> = [CULPRIT, CULPRIT, CULPRIT].map(request).to_vec();
        let results = serve_panicking(&path, requests.clone(), 1);
        assert_eq!(results.len(), 3);
        for result in results
            .iter()
            .chain(&serve_panicking(&path, requests[..1].to_vec(), 1))
        {
            assert!(
                matches!(&result, Err(WorkerError::Machine(m)) if m.contains("index out of bounds")),
                "{result:?}"
            );
        }
    }

    #[tokio::test]
    async fn a_short_job_joins_a_running_long_one_and_leaves_before_it() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("tiny.gguf");
        TinyModel::default().write(&path).unwrap();
        let engine = Engine::load(&path, KernelPath::detect(), 1).unwrap();
        let with_tokens = |seed: u64, max_tokens: u32| {
            let mut r = request(seed);
            r.params.max_tokens = max_tokens;
            r
        };
        // A long job that runs to its length (no end-of-generation token on the way).
        let long = (10..40)
            .map(|seed| with_tokens(seed, 30))
            .find(|r| engine.generate(r).unwrap().output_tokens.len() == 30)
            .expect("a seed that generates 30 tokens");
        let short = with_tokens(1, 2);
        let long_alone = engine.generate(&long).unwrap().digest;
        let short_alone = engine.generate(&short).unwrap().digest;

        let reports = Arc::new(Mutex::new(Vec::new()));
        let seen = reports.clone();
        let (first_round_done, first_round) = std::sync::mpsc::channel();
        let (go_on, go) = std::sync::mpsc::channel::<()>();
        let worker = EngineWorker::spawn(
            engine,
            BatchPolicy {
                max_batch: 4,
                window: Duration::ZERO,
                queue: 4,
            },
            move |report| {
                let mut seen = seen.lock().unwrap();
                seen.push(report);
                if seen.len() == 1 {
                    // Holds the worker after the long job's first round until the short job
                    // waits in the queue.
                    first_round_done.send(()).unwrap();
                    go.recv().unwrap();
                }
            },
        );
        let long_worker = worker.clone();
        let long_answer = tokio::spawn(async move { long_worker.infer(long).await });
        tokio::task::spawn_blocking(move || first_round.recv().unwrap())
            .await
            .unwrap();
        let (reply, short_answer) = oneshot::channel();
        worker.jobs.send((short, reply)).await.unwrap();
        go_on.send(()).unwrap();

        assert_eq!(short_answer.await.unwrap().unwrap().digest, short_alone);
        assert_eq!(long_answer.await.unwrap().unwrap().digest, long_alone);
        let jobs: Vec<usize> = reports.lock().unwrap().iter().map(|r| r.jobs).collect();
        // One round alone, the short job's rounds beside it, then the long one alone again.
        let together = jobs.iter().filter(|&&n| n == 2).count();
        assert!(jobs[0] == 1 && together > 0, "{jobs:?}");
        assert_eq!(jobs.len(), 1 + together + jobs[1 + together..].len());
        assert!(jobs[1..1 + together].iter().all(|&n| n == 2), "{jobs:?}");
        assert!(jobs[1 + together..].iter().all(|&n| n == 1), "{jobs:?}");
        assert!(jobs.len() > 1 + together, "{jobs:?}");
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
