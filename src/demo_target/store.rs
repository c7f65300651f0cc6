//! What the demo target remembers, as the real services do: assessments
//! (with their answers), indexed documents and login sessions exist only
//! once created, and are gone once deleted. At most [`CAPACITY`] objects are
//! kept, the least recently used forgotten first, so a demo left running
//! for days stays small.

use lru::LruCache;
use serde_json::{json, Value};
use std::num::NonZeroUsize;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Mutex;

pub const CAPACITY: usize = 100_000;

/// The kinds of object the target keeps.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Assessment = 0,
    Document = 1,
    Session = 2,
}

const KINDS: [(Kind, &str); 3] =
    [(Kind::Assessment, "assessments"), (Kind::Document, "documents"), (Kind::Session, "sessions")];

#[derive(Debug)]
struct Object {
    kind: Kind,
    answers: u32,
}

/// Why an object could not be used.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refusal {
    /// No such object (never created, deleted, or forgotten).
    Unknown,
    /// Grading an assessment with no answers.
    NoAnswers,
}

/// Per kind: created, deleted, used with an unknown id, forgotten to stay within capacity.
#[derive(Default)]
struct Counts {
    created: AtomicU64,
    deleted: AtomicU64,
    unknown_id: AtomicU64,
    evicted: AtomicU64,
}

pub struct Store {
    objects: Mutex<LruCache<String, Object>>,
    counts: [Counts; 3],
}

impl Default for Store {
    fn default() -> Self {
        Store::with_capacity(CAPACITY)
    }
}

impl Store {
    pub fn with_capacity(capacity: usize) -> Store {
        let capacity = NonZeroUsize::new(capacity.max(1)).unwrap_or(NonZeroUsize::MIN);
        Store { objects: Mutex::new(LruCache::new(capacity)), counts: Default::default() }
    }

    fn objects(&self) -> std::sync::MutexGuard<'_, LruCache<String, Object>> {
        self.objects.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Remembers a new object of `kind` under `id`.
    pub fn create(&self, kind: Kind, id: &str) {
        let evicted = self.objects().push(id.to_string(), Object { kind, answers: 0 });
        if let Some((old_id, old)) = evicted.filter(|(old_id, _)| old_id != id) {
            let _ = old_id;
            self.counts[old.kind as usize].evicted.fetch_add(1, Ordering::Relaxed);
        }
        self.counts[kind as usize].created.fetch_add(1, Ordering::Relaxed);
    }

    /// Uses object `id` of `kind`: `answer` records one answer; `grade` needs one first.
    pub fn touch(&self, kind: Kind, id: &str, action: Action) -> Result<u32, Refusal> {
        let mut objects = self.objects();
        let found = objects.get_mut(id).filter(|o| o.kind == kind);
        let Some(object) = found else {
            drop(objects);
            self.counts[kind as usize].unknown_id.fetch_add(1, Ordering::Relaxed);
            return Err(Refusal::Unknown);
        };
        match action {
            Action::Answer => object.answers += 1,
            Action::Grade if object.answers == 0 => return Err(Refusal::NoAnswers),
            Action::Grade | Action::Read => {}
        }
        Ok(object.answers)
    }

    /// Forgets object `id` of `kind`.
    pub fn delete(&self, kind: Kind, id: &str) -> Result<(), Refusal> {
        let mut objects = self.objects();
        if objects.peek(id).is_some_and(|o| o.kind == kind) {
            objects.pop(id);
            drop(objects);
            self.counts[kind as usize].deleted.fetch_add(1, Ordering::Relaxed);
            Ok(())
        } else {
            drop(objects);
            self.counts[kind as usize].unknown_id.fetch_add(1, Ordering::Relaxed);
            Err(Refusal::Unknown)
        }
    }

    /// Per kind: created, deleted, unknown_id, evicted and live now.
    pub fn stats(&self) -> Value {
        let objects = self.objects();
        let mut out = serde_json::Map::new();
        for (kind, name) in KINDS {
            let c = &self.counts[kind as usize];
            let live = objects.iter().filter(|(_, o)| o.kind == kind).count();
            out.insert(
                name.to_string(),
                json!({
                    "created": c.created.load(Ordering::Relaxed),
                    "deleted": c.deleted.load(Ordering::Relaxed),
                    "unknown_id": c.unknown_id.load(Ordering::Relaxed),
                    "evicted": c.evicted.load(Ordering::Relaxed),
                    "live": live,
                }),
            );
        }
        Value::Object(out)
    }
}

/// What a request does to an existing object.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Action {
    Read,
    Answer,
    Grade,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn objects_exist_only_between_create_and_delete() {
        let store = Store::with_capacity(10);
        assert_eq!(store.touch(Kind::Assessment, "a", Action::Answer), Err(Refusal::Unknown));
        store.create(Kind::Assessment, "a");
        assert_eq!(store.touch(Kind::Assessment, "a", Action::Grade), Err(Refusal::NoAnswers));
        assert_eq!(store.touch(Kind::Assessment, "a", Action::Answer), Ok(1));
        assert_eq!(store.touch(Kind::Assessment, "a", Action::Grade), Ok(1));
        assert_eq!(store.touch(Kind::Document, "a", Action::Read), Err(Refusal::Unknown), "kinds do not mix");
        assert_eq!(store.delete(Kind::Assessment, "a"), Ok(()));
        assert_eq!(store.delete(Kind::Assessment, "a"), Err(Refusal::Unknown));
        let stats = store.stats();
        assert_eq!(stats["assessments"], json!({"created": 1, "deleted": 1, "unknown_id": 2, "evicted": 0, "live": 0}));
        assert_eq!(stats["documents"]["unknown_id"], 1);
    }

    #[test]
    fn the_least_recently_used_object_is_forgotten_at_capacity() {
        let store = Store::with_capacity(2);
        store.create(Kind::Assessment, "a");
        store.create(Kind::Assessment, "b");
        store.touch(Kind::Assessment, "a", Action::Answer).unwrap();
        store.create(Kind::Document, "c");
        assert_eq!(store.touch(Kind::Assessment, "b", Action::Read), Err(Refusal::Unknown));
        assert!(store.touch(Kind::Assessment, "a", Action::Read).is_ok());
        assert_eq!(store.stats()["assessments"]["evicted"], 1);
    }
}
