//! The connection to the token: the session pool, the per-alias handle cache, and recovery
//! when the token drops its sessions (re-initialise, find the slot again by label, retry once).

use std::collections::HashMap;
use std::sync::{MutexGuard, PoisonError};
use std::time::Duration;

use cryptoki::context::{CInitializeArgs, CInitializeFlags, Pkcs11};
use cryptoki::error::{Error as CkError, RvError};
use cryptoki::object::{Attribute, AttributeType, KeyType, ObjectClass, ObjectHandle};
use cryptoki::session::{Session, UserType};
use cryptoki::slot::Slot;
use cryptoki::types::AuthPin;

use super::Pkcs11Keystore;
use crate::HsmError;

/// Whether the token does OAEP-SHA256 itself: not yet known, yes, or no (raw RSA fallback).
pub(super) const OAEP_UNKNOWN: u8 = 0;
pub(super) const OAEP_IN_TOKEN: u8 = 1;
pub(super) const OAEP_IN_SOFTWARE: u8 = 2;

/// Reconnection attempts after the token dropped its sessions, and the first pause.
pub(super) const RECONNECT_TRIES: u32 = 3;
pub(super) const RECONNECT_BACKOFF: Duration = Duration::from_millis(100);

pub(super) struct Pool {
    pub(super) idle: Vec<Session>,
    pub(super) in_use: usize,
    pub(super) generation: u64,
    pub(super) logged_in_generation: Option<u64>,
    pub(super) slot: Slot,
}

/// A cached private, public or secret key object.
#[derive(Clone, Copy)]
pub(super) struct KeyObject {
    pub(super) handle: ObjectHandle,
    pub(super) key_type: KeyType,
    /// Modulus length in bytes for RSA keys.
    pub(super) modulus_len: usize,
}

pub(super) struct Lease {
    pub(super) session: Option<Session>,
    pub(super) generation: u64,
}

/// A failure inside a session call: the token's error (maybe recoverable) or ours.
pub(super) enum Fail {
    Token(CkError),
    Keystore(HsmError),
}

impl From<CkError> for Fail {
    fn from(e: CkError) -> Self {
        Fail::Token(e)
    }
}

impl From<HsmError> for Fail {
    fn from(e: HsmError) -> Self {
        Fail::Keystore(e)
    }
}

pub(super) fn rv(e: &CkError) -> Option<RvError> {
    match e {
        CkError::Pkcs11(rv, _) => Some(*rv),
        _ => None,
    }
}

/// Errors after which the sessions (or the whole library state) are gone and a reconnect may
/// help.
pub(super) fn is_recoverable(e: &CkError) -> bool {
    matches!(
        rv(e),
        Some(
            RvError::SessionHandleInvalid
                | RvError::SessionClosed
                | RvError::DeviceRemoved
                | RvError::DeviceError
                | RvError::TokenNotPresent
                | RvError::CryptokiNotInitialized
                | RvError::UserNotLoggedIn
                | RvError::ObjectHandleInvalid
                | RvError::KeyHandleInvalid
        )
    )
}

pub(super) fn token_error(e: CkError) -> HsmError {
    HsmError::Pkcs11(e.to_string())
}

pub(super) fn initialize(ctx: &Pkcs11) -> Result<(), CkError> {
    match ctx.initialize(CInitializeArgs::new(CInitializeFlags::OS_LOCKING_OK)) {
        Err(e) if rv(&e) == Some(RvError::CryptokiAlreadyInitialized) => Ok(()),
        other => other,
    }
}

pub(super) fn find_slot(ctx: &Pkcs11, label: &str) -> Result<Slot, HsmError> {
    let slots = ctx.get_slots_with_initialized_token().map_err(token_error)?;
    for slot in slots {
        let info = ctx.get_token_info(slot).map_err(token_error)?;
        if info.label().trim_end() == label {
            return Ok(slot);
        }
    }
    Err(HsmError::Config(format!("no initialised token labelled {label:?}")))
}

impl Pkcs11Keystore {
    pub(super) fn lock_pool(&self) -> MutexGuard<'_, Pool> {
        self.pool.lock().unwrap_or_else(PoisonError::into_inner)
    }

    pub(super) fn lock_keys(&self) -> MutexGuard<'_, HashMap<(String, bool), KeyObject>> {
        self.keys.lock().unwrap_or_else(PoisonError::into_inner)
    }

    pub(super) fn checkout(&self) -> Result<Lease, CkError> {
        let mut pool = self.lock_pool();
        while pool.in_use >= self.config.pool_size {
            pool = self.available.wait(pool).unwrap_or_else(PoisonError::into_inner);
        }
        pool.in_use += 1;
        let generation = pool.generation;
        if let Some(session) = pool.idle.pop() {
            return Ok(Lease { session: Some(session), generation });
        }
        let slot = pool.slot;
        let needs_login = pool.logged_in_generation != Some(generation);
        drop(pool);
        let opened = self.ctx.open_rw_session(slot).and_then(|session| {
            if needs_login {
                let pin = AuthPin::new(self.config.pin.as_str().into());
                match session.login(UserType::User, Some(&pin)) {
                    Err(e) if rv(&e) == Some(RvError::UserAlreadyLoggedIn) => {}
                    other => other?,
                }
            }
            Ok(session)
        });
        let mut pool = self.lock_pool();
        match opened {
            Ok(session) => {
                if needs_login && pool.generation == generation {
                    pool.logged_in_generation = Some(generation);
                }
                Ok(Lease { session: Some(session), generation })
            }
            Err(e) => {
                pool.in_use -= 1;
                self.available.notify_one();
                Err(e)
            }
        }
    }

    /// Returns a healthy session to the pool; one from before a reset is forgotten, not closed,
    /// since its handle number may since have been given to a new session.
    pub(super) fn checkin(&self, mut lease: Lease, healthy: bool) {
        let mut pool = self.lock_pool();
        pool.in_use -= 1;
        if let Some(session) = lease.session.take() {
            if healthy && lease.generation == pool.generation {
                pool.idle.push(session);
            } else {
                std::mem::forget(session);
            }
        }
        self.available.notify_one();
    }

    /// Drops the pool and the handle cache and reconnects (re-initialising the library if it
    /// was finalised), unless another thread already did so since `seen_generation`.
    pub(super) fn reset(&self, seen_generation: u64) -> Result<(), HsmError> {
        let mut pool = self.lock_pool();
        if pool.generation != seen_generation {
            return Ok(());
        }
        pool.generation += 1;
        pool.logged_in_generation = None;
        for session in pool.idle.drain(..) {
            std::mem::forget(session);
        }
        self.lock_keys().clear();
        let mut pause = RECONNECT_BACKOFF;
        let mut last = HsmError::Io("token unreachable".into());
        for attempt in 0..RECONNECT_TRIES {
            if attempt > 0 {
                std::thread::sleep(pause);
                pause *= 2;
            }
            match initialize(&self.ctx)
                .map_err(token_error)
                .and_then(|()| find_slot(&self.ctx, &self.config.token_label))
            {
                Ok(slot) => {
                    pool.slot = slot;
                    return Ok(());
                }
                Err(e) => last = e,
            }
        }
        Err(last)
    }

    /// Runs `f` on a pooled session; after a recoverable token error, reconnects and retries
    /// once.
    pub(super) fn call<T>(&self, f: impl Fn(&Session) -> Result<T, Fail>) -> Result<T, HsmError> {
        let mut retried = false;
        loop {
            let lease = match self.checkout() {
                Ok(lease) => lease,
                Err(e) if is_recoverable(&e) && !retried => {
                    retried = true;
                    let generation = self.lock_pool().generation;
                    self.reset(generation)?;
                    continue;
                }
                Err(e) => return Err(token_error(e)),
            };
            let result = match &lease.session {
                Some(session) => f(session),
                None => Err(Fail::Keystore(HsmError::Io("no session".into()))),
            };
            match result {
                Ok(v) => {
                    self.checkin(lease, true);
                    return Ok(v);
                }
                Err(Fail::Token(e)) if is_recoverable(&e) && !retried => {
                    retried = true;
                    let generation = lease.generation;
                    self.checkin(lease, false);
                    self.reset(generation)?;
                }
                Err(Fail::Token(e)) => {
                    self.checkin(lease, !is_recoverable(&e));
                    return Err(token_error(e));
                }
                Err(Fail::Keystore(e)) => {
                    self.checkin(lease, true);
                    return Err(e);
                }
            }
        }
    }

    /// Finds (through the cache) the key object of `class` labelled `alias`. The cache is keyed
    /// by alias and whether the class is `CKO_SECRET_KEY`.
    pub(super) fn key(&self, session: &Session, alias: &str, class: ObjectClass) -> Result<KeyObject, Fail> {
        if let Some(k) = self.lock_keys().get(&(alias.to_owned(), class == ObjectClass::SECRET_KEY)) {
            return Ok(*k);
        }
        let handle = *super::objects_named(session, alias, Some(class))?
            .first()
            .ok_or_else(|| HsmError::NoSuchAlias(alias.to_owned()))?;
        let mut key_type = None;
        let mut modulus_len = 0;
        let wanted: &[AttributeType] = if class == ObjectClass::SECRET_KEY {
            &[AttributeType::KeyType]
        } else {
            &[AttributeType::KeyType, AttributeType::Modulus]
        };
        for attribute in session.get_attributes(handle, wanted)? {
            match attribute {
                Attribute::KeyType(t) => key_type = Some(t),
                Attribute::Modulus(m) => modulus_len = m.len(),
                _ => {}
            }
        }
        let key_type = key_type.ok_or_else(|| HsmError::Pkcs11(format!("{alias}: no CKA_KEY_TYPE")))?;
        let key = KeyObject { handle, key_type, modulus_len };
        self.lock_keys().insert((alias.to_owned(), class == ObjectClass::SECRET_KEY), key);
        Ok(key)
    }

    pub(super) fn forget(&self, alias: &str) {
        self.lock_keys().retain(|(a, _), _| a != alias);
    }

    /// Closes every session this process has with the token and finalises the library, as a
    /// token reset or a network HSM failover does, without telling the pool: the next call
    /// finds its sessions gone and must recover. For fault tests and drills.
    pub fn simulate_token_reset(&self) -> Result<(), HsmError> {
        let other = Pkcs11::new(&self.config.module).map_err(token_error)?;
        other.finalize().map_err(token_error)
    }
}
