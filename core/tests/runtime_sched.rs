//! The shared runtime's threads yield to host threads (SCHED_BATCH on
//! Linux), and the host's own thread keeps its policy.

#[cfg(target_os = "linux")]
#[test]
fn shared_runtime_threads_are_batch_scheduled() {
    // `OXSIO_RUNTIME_SCHED=normal` is the documented opt-out.
    let want = std::env::var("OXSIO_RUNTIME_SCHED").map_or(true, |v| v != "normal");
    let rt = oxsio::runtime::shared();
    let on_worker = rt.block_on(async {
        tokio::spawn(async { oxsio::runtime::thread_is_batch_scheduled() })
            .await
            .expect("task")
    });
    assert_eq!(on_worker, want, "runtime worker thread's policy");
    let on_blocking = rt.block_on(async {
        tokio::task::spawn_blocking(oxsio::runtime::thread_is_batch_scheduled)
            .await
            .expect("task")
    });
    assert_eq!(on_blocking, want, "blocking-pool thread's policy");
    assert!(
        !oxsio::runtime::thread_is_batch_scheduled(),
        "the caller's thread must keep its own policy"
    );
}
