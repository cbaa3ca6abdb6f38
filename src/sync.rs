//! One policy for poisoned locks. Hearth's mutexes guard small maps and
//! pools whose every change is one insert, remove or push, so a thread
//! that panics while holding one leaves them whole: the lock is taken
//! again, not turned into a panic in every thread after it.

use std::sync::{Mutex, MutexGuard, PoisonError};

/// Locks `mutex`, poisoned or not.
pub fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}

#[cfg(test)]
mod tests {
    #[test]
    fn a_panic_holding_the_lock_does_not_take_it_down() {
        let m = std::sync::Arc::new(std::sync::Mutex::new(vec![1]));
        let held = m.clone();
        let _ = std::thread::spawn(move || {
            let _guard = held.lock().unwrap();
            panic!("while holding the lock");
        })
        .join();
        assert!(m.is_poisoned());
        super::lock(&m).push(2);
        assert_eq!(*super::lock(&m), vec![1, 2]);
    }
}
