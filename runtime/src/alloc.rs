//! ArrayBuffer memory of an isolate, counted and capped.
//!
//! V8's heap limit (`heapMb`) covers JavaScript objects only: the bytes
//! behind an ArrayBuffer live outside the heap. Each isolate therefore gets
//! its own allocator with a byte budget equal to the heap limit; an
//! allocation past it fails, which JavaScript sees as a RangeError ("Array
//! buffer allocation failed"), so a Worker cannot take the process's memory
//! with typed arrays.

use std::alloc::{alloc, alloc_zeroed, dealloc, Layout};
use std::ffi::c_void;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

/// Bytes an isolate's ArrayBuffers may hold, and how many they hold now.
pub(crate) struct Budget {
    used: AtomicUsize,
    limit: usize,
}

impl Budget {
    fn reserve(&self, n: usize) -> bool {
        let mut used = self.used.load(Ordering::Relaxed);
        loop {
            let Some(next) = used.checked_add(n).filter(|&v| v <= self.limit) else {
                return false;
            };
            match self
                .used
                .compare_exchange_weak(used, next, Ordering::Relaxed, Ordering::Relaxed)
            {
                Ok(_) => return true,
                Err(now) => used = now,
            }
        }
    }

    fn release(&self, n: usize) {
        self.used.fetch_sub(n, Ordering::Relaxed);
    }
}

/// Alignment of every buffer (what `malloc` would give).
const ALIGN: usize = 16;

fn layout(n: usize) -> Option<Layout> {
    // Zero-length buffers still get a distinct, freeable pointer.
    Layout::from_size_align(n.max(1), ALIGN).ok()
}

unsafe extern "C" fn allocate(budget: &Budget, n: usize) -> *mut c_void {
    let Some(l) = layout(n) else {
        return std::ptr::null_mut();
    };
    if !budget.reserve(n) {
        return std::ptr::null_mut();
    }
    // SAFETY: `l` has a non-zero size.
    let p = unsafe { alloc_zeroed(l) };
    if p.is_null() {
        budget.release(n);
    }
    p.cast()
}

unsafe extern "C" fn allocate_uninitialized(budget: &Budget, n: usize) -> *mut c_void {
    let Some(l) = layout(n) else {
        return std::ptr::null_mut();
    };
    if !budget.reserve(n) {
        return std::ptr::null_mut();
    }
    // SAFETY: `l` has a non-zero size.
    let p = unsafe { alloc(l) };
    if p.is_null() {
        budget.release(n);
    }
    p.cast()
}

unsafe extern "C" fn free(budget: &Budget, data: *mut c_void, n: usize) {
    if data.is_null() {
        return;
    }
    if let Some(l) = layout(n) {
        // SAFETY: V8 hands back a pointer from `allocate*` with its length,
        // so `l` is the layout it was allocated with.
        unsafe { dealloc(data.cast(), l) };
        budget.release(n);
    }
}

unsafe extern "C" fn drop_budget(budget: *const Budget) {
    // SAFETY: the pointer came from `Arc::into_raw` in `allocator`, and V8
    // calls this once, when the allocator itself is destroyed.
    drop(unsafe { Arc::from_raw(budget) });
}

static VTABLE: v8::RustAllocatorVtable<Budget> = v8::RustAllocatorVtable {
    allocate,
    allocate_uninitialized,
    free,
    drop: drop_budget,
};

/// An ArrayBuffer allocator holding at most `limit` bytes at once.
pub(crate) fn allocator(limit: usize) -> v8::UniqueRef<v8::Allocator> {
    let budget = Arc::new(Budget {
        used: AtomicUsize::new(0),
        limit,
    });
    // SAFETY: the raw Arc stays valid until V8 calls `drop_budget`; the
    // vtable is static.
    unsafe { v8::new_rust_allocator(Arc::into_raw(budget), &VTABLE) }
}
