//! The engine worker: one thread that owns the deterministic engine and runs queued jobs in
//! one running batch that jobs join and leave at every step (continuous batching). Batching is
//! safe because the engine is batch-invariant: a job's bits do not depend on which other jobs
//! share its batch, or when it joined. The queue is bounded, so callers feel back-pressure.
//!
//! Failures are told apart by whose fault they are: the request's (the same on every honest
//! node, so the job is over) or this machine's (a device or thread failure, a panic: the job
//! may succeed if tried again). When a round panics its jobs run again one at a time, so a
//! request that makes the engine panic fails alone and the others still get their answers.

use crate::health::StepClock;
use kernels::engine::{Batch, Engine, EngineError, Generation, Request, Round};
use std::collections::BTreeMap;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::Arc;
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
    /// Starts the worker thread; `clock` runs while it is in a round, and `on_batch` sees
    /// every round (one step of each running job).
    pub fn spawn(
        engine: Engine,
        policy: BatchPolicy,
        clock: Arc<StepClock>,
        on_batch: impl Fn(BatchReport) + Send + 'static,
    ) -> Self {
        let (jobs, queue) = mpsc::channel(policy.queue.max(1));
        std::thread::Builder::new()
            .name("engine-worker".into())
            .spawn(move || run(engine, policy, queue, &clock, on_batch))
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
    clock: &StepClock,
    on_batch: impl Fn(BatchReport),
) {
    // This thread inherits the float mode of the one that spawned it; the engine only checks.
    kernels::engine::use_spec_float_mode();
    serve(
        &engine,
        policy,
        queue,
        on_batch,
        |batch| clock.time(|| batch.step()),
        |request| engine.generate(request),
    );
}

/// Runs the jobs of `queue` until every handle is gone, in one running batch (continuous
/// batching): waiting jobs join it before each round, up to `max_batch`, and each job is
/// answered as soon as it ends, so a short job never waits for a long one. A job that arrives
/// to an idle worker waits up to the policy's window for company. Each round runs with `step`.
/// The worker holds every job's request and reply until it answers it, so a panic — in a
/// round, or while a job joins — loses none: the batch is dropped and each of its jobs runs
/// again alone with `alone` (batch invariance: the same bits), so only a job that panics alone
/// fails (as this machine's fault, to be tried again); a job alone in a round that panics fails
/// at once. The worker keeps running either way.
fn serve<'e>(
    engine: &'e Engine,
    policy: BatchPolicy,
    mut queue: mpsc::Receiver<Job>,
    on_batch: impl Fn(BatchReport),
    step: impl Fn(&mut Batch<'e, JobId>) -> Round<JobId>,
    alone: impl Fn(&Request) -> Result<Generation, EngineError>,
) {
    let mut jobs = Jobs::default();
    let mut batch = engine.batch();
    loop {
        if batch.is_empty() {
            let Some(first) = queue.blocking_recv() else {
                return;
            };
            jobs.admit(&mut batch, first);
            let deadline = Instant::now() + policy.window;
            while batch.len() < policy.max_batch {
                match queue.try_recv() {
                    Ok(job) => jobs.admit(&mut batch, job),
                    Err(mpsc::error::TryRecvError::Empty) if Instant::now() < deadline => {
                        std::thread::sleep(Duration::from_millis(1));
                    }
                    Err(_) => break,
                }
            }
        } else {
            while batch.len() < policy.max_batch {
                match queue.try_recv() {
                    Ok(job) => jobs.admit(&mut batch, job),
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
                let report = BatchReport {
                    jobs: round.requests,
                    generated_tokens: round.sampled,
                    elapsed: started.elapsed(),
                };
                // A report that panics (metrics) must not take the worker down.
                let _ = catch_unwind(AssertUnwindSafe(|| on_batch(report)));
                for (id, result) in round.ended {
                    jobs.answer(id, result.map_err(|e| WorkerError::classify(&e)));
                }
            }
            Err(panic) => {
                // Whatever the batch holds now is not to be trusted: the jobs start over.
                batch = engine.batch();
                rerun_alone(jobs.take_all(), panic, &alone);
            }
        }
    }
}

/// Answers the jobs of a batch whose round panicked (`panic`): a job alone in it fails with
/// that panic; several run again one at a time with `alone`.
fn rerun_alone(
    unanswered: Vec<(Request, Reply)>,
    panic: WorkerError,
    alone: &impl Fn(&Request) -> Result<Generation, EngineError>,
) {
    if unanswered.len() == 1 {
        for (_, reply) in unanswered {
            answer(reply, Err(panic.clone()));
        }
        return;
    }
    tracing::warn!(
        jobs = unanswered.len(),
        "the engine panicked on a batch; running its jobs one at a time"
    );
    for (request, reply) in unanswered {
        let result = guarded(|| alone(&request))
            .and_then(|result| result.map_err(|e| WorkerError::classify(&e)));
        answer(reply, result);
    }
}

/// The id a job runs under in the batch.
type JobId = u64;

/// The jobs the worker holds, each until it is answered: its request (to run it again) and
/// its reply.
#[derive(Default)]
struct Jobs {
    next: JobId,
    held: BTreeMap<JobId, (Request, Reply)>,
}

impl Jobs {
    /// Adds `job` to the running batch, or answers it at once when it cannot start (or the
    /// engine panicked starting it).
    fn admit(&mut self, batch: &mut Batch<'_, JobId>, (request, reply): Job) {
        let id = self.next;
        self.next += 1;
        match guarded(|| batch.admit(id, request.clone())) {
            Ok(Ok(())) => {
                self.held.insert(id, (request, reply));
            }
            Ok(Err((_, e))) => answer(reply, Err(WorkerError::classify(&e))),
            Err(panic) => answer(reply, Err(panic)),
        }
    }

    fn answer(&mut self, id: JobId, result: Result<Generation, WorkerError>) {
        if let Some((_, reply)) = self.held.remove(&id) {
            answer(reply, result);
        }
    }

    /// Every job not answered yet, in the order they came.
    fn take_all(&mut self) -> Vec<(Request, Reply)> {
        std::mem::take(&mut self.held).into_values().collect()
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
            Arc::default(),
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
            Arc::default(),
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

    /// Where a round panics (as a kernel bug would), counting rounds from 1.
    #[derive(Clone, Copy)]
    enum PanicAt {
        /// Before round `n` and every later one runs.
        Before(usize),
        /// After the first round in which a job ended: its answer is in hand, not sent.
        AfterAnEnd,
    }

    /// Serves `jobs` (sent all at once, so they share a batch) on the tiny model at `path`,
    /// with rounds that panic as `panic_at` says and runs alone that panic for the request
    /// with seed [`CULPRIT`]; returns each job's result.
    fn serve_panicking(
        path: &Path,
        jobs: Vec<Request>,
        panic_at: PanicAt,
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
        let panicked = std::cell::Cell::new(false);
        serve(
            &engine,
            BatchPolicy::default(),
            queue,
            |_| {},
            |batch| {
                rounds.set(rounds.get() + 1);
                if let PanicAt::Before(n) = panic_at {
                    assert!(rounds.get() < n, "a round's index out of bounds");
                }
                let round = batch.step();
                if matches!(panic_at, PanicAt::AfterAnEnd)
                    && !round.ended.is_empty()
                    && !panicked.replace(true)
                {
                    panic!("a round's index out of bounds");
                }
                round
            },
            |request| {
                assert!(
                    request.params.seed != CULPRIT,
                    "an index out of bounds alone"
                );
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
        let mut requests: Vec<Request> = (0..4).map(request).collect();
        // One job ends early: the round it ends in panics before its answer goes out.
        requests[0].params.max_tokens = 2;
        // The first round, the third (mid-generation, each job with cached steps), and right
        // after a job ended.
        for panic_at in [PanicAt::Before(1), PanicAt::Before(3), PanicAt::AfterAnEnd] {
            let results = serve_panicking(&path, requests.clone(), panic_at);
            assert_eq!(results.len(), 4);
            for (i, result) in results.iter().enumerate() {
                if i as u64 == CULPRIT {
                    assert!(
                        matches!(result, Err(WorkerError::Machine(m)) if m.contains("an index out of bounds alone")),
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
        // Several jobs run again alone, and panic there.
        let results = serve_panicking(&path, requests.clone(), PanicAt::Before(1));
        assert_eq!(results.len(), 3);
        for result in &results {
            assert!(
                matches!(result, Err(WorkerError::Machine(m)) if m.contains("an index out of bounds alone")),
                "{result:?}"
            );
        }
        // A job alone in a round that panics fails with the round's panic.
        let alone = serve_panicking(&path, requests[..1].to_vec(), PanicAt::Before(1));
        assert!(
            matches!(&alone[0], Err(WorkerError::Machine(m)) if m.contains("a round's index out of bounds")),
            "{alone:?}"
        );
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
        let clock = Arc::new(StepClock::default());
        let idle = clock.clone();
        let (first_round_done, first_round) = std::sync::mpsc::channel();
        let (go_on, go) = std::sync::mpsc::channel::<()>();
        let (reply, short_answer) = oneshot::channel();
        // The short job's answer, read by the worker's report of the first round the long job
        // runs alone again: by then it must have been sent.
        let short_answer = Arc::new(Mutex::new(Some(short_answer)));
        let answered_first = Arc::new(Mutex::new(None));
        let (waiting, answered) = (short_answer.clone(), answered_first.clone());
        let worker = EngineWorker::spawn(
            engine,
            BatchPolicy {
                max_batch: 4,
                window: Duration::ZERO,
                queue: 4,
            },
            clock.clone(),
            move |report| {
                assert_eq!(idle.running_for(), None, "the step's clock stopped with it");
                let mut seen = seen.lock().unwrap();
                seen.push(report);
                if seen.len() == 1 {
                    // Holds the worker after the long job's first round until the short job
                    // waits in the queue.
                    first_round_done.send(()).unwrap();
                    go.recv().unwrap();
                } else if report.jobs == 1 && answered.lock().unwrap().is_none() {
                    let mut receiver = waiting.lock().unwrap().take().unwrap();
                    *answered.lock().unwrap() = Some(receiver.try_recv());
                }
            },
        );
        let long_worker = worker.clone();
        let long_answer = tokio::spawn(async move { long_worker.infer(long).await });
        tokio::task::spawn_blocking(move || first_round.recv().unwrap())
            .await
            .unwrap();
        worker.jobs.send((short, reply)).await.unwrap();
        go_on.send(()).unwrap();

        assert_eq!(long_answer.await.unwrap().unwrap().digest, long_alone);
        let answered = answered_first.lock().unwrap().take();
        match answered {
            Some(Ok(Ok(short))) => assert_eq!(short.digest, short_alone),
            other => {
                panic!("the short job was not answered before the long one went on: {other:?}")
            }
        }
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
