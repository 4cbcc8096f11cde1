//! The native key table: what a `CryptoKey` holds is a handle into it, so
//! key bytes stay out of the JS heap unless the Worker exports them.
//!
//! One table per context (a context slot, made on first use). The glue
//! registers every `CryptoKey` with a `FinalizationRegistry` that drops the
//! entry once the key object is collected, so the table holds only keys
//! that some JS object can still reach.

use std::cell::{Cell, RefCell};
use std::collections::HashMap;
use std::rc::Rc;
use std::sync::{Arc, Mutex};

use zeroize::Zeroizing;

use super::digest::Hasher;
use super::ec::{EcPrivate, EcPublic};

/// Key material, by kind. The Web Crypto algorithm that uses it (RSA-PSS
/// or RSA-OAEP on the same RSA key, HMAC or AES on secret bytes) is the
/// glue's to check; the material only knows what it is.
pub(crate) enum Material {
    /// Secret bytes: HMAC, AES-*, HKDF, PBKDF2.
    Secret(Zeroizing<Vec<u8>>),
    RsaPrivate(Box<super::rsa::RsaPrivate>),
    RsaPublic(rsa::RsaPublicKey),
    EcPrivate(EcPrivate),
    EcPublic(EcPublic),
    Ed25519Private(ed25519_dalek::SigningKey),
    /// Any 32 bytes: Web Crypto imports points that do not decode and
    /// lets verification with them fail.
    Ed25519Public([u8; 32]),
    X25519Private(x25519_dalek::StaticSecret),
    X25519Public(x25519_dalek::PublicKey),
    /// The running state of a `crypto.DigestStream` (not a key, but it
    /// lives and dies the same way).
    Digest(Mutex<Option<Hasher>>),
}

/// The key table of one context.
pub(crate) struct Keys {
    next: Cell<u32>,
    map: RefCell<HashMap<u32, Arc<Material>>>,
    /// Permits for crypto work on the blocking pool (`JOBS` at a time).
    pub(crate) jobs: Arc<tokio::sync::Semaphore>,
}

impl Default for Keys {
    fn default() -> Keys {
        Keys {
            next: Cell::new(0),
            map: RefCell::new(HashMap::new()),
            jobs: Arc::new(tokio::sync::Semaphore::new(Keys::JOBS)),
        }
    }
}

impl Keys {
    /// How many crypto jobs of one isolate may run off its thread at once.
    pub(crate) const JOBS: usize = 2;

    /// The table of the current context, made on first use.
    pub(crate) fn of(scope: &mut v8::PinScope<'_, '_>) -> Rc<Keys> {
        let context = scope.get_current_context();
        if let Some(keys) = context.get_slot::<Keys>() {
            return keys;
        }
        let keys = Rc::new(Keys::default());
        context.set_slot(keys.clone());
        keys
    }

    /// Store `m`; returns its handle (never 0).
    pub(crate) fn insert(&self, m: Material) -> u32 {
        let id = self.next.get().wrapping_add(1).max(1);
        self.next.set(id);
        self.map.borrow_mut().insert(id, Arc::new(m));
        id
    }

    pub(crate) fn get(&self, id: u32) -> Option<Arc<Material>> {
        self.map.borrow().get(&id).cloned()
    }

    pub(crate) fn remove(&self, id: u32) {
        self.map.borrow_mut().remove(&id);
    }
}
