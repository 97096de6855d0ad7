//! A transaction in etcd's shape: compares on the keys' current state, then puts and deletes made all
//! together or not at all. A Service's ClusterIP and NodePort keys are written in the same transaction as
//! the Service, so a crash can never leave one without the other.

use super::StoreError;

/// What a key must be for the transaction to go ahead.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Compare {
    /// The key does not exist (else AlreadyExists).
    Absent(String),
    /// The key exists (else NotFound).
    Present(String),
    /// The key exists and was last written at this revision (else NotFound or Conflict).
    At(String, u64),
}

/// A change the transaction makes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Op {
    Put(String, Vec<u8>),
    /// Deleting a key that does not exist changes nothing (as in etcd).
    Delete(String),
}

/// Compares, then ops. The answer is an event per change made, in the ops' order.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Txn {
    pub compares: Vec<Compare>,
    pub ops: Vec<Op>,
}

impl Txn {
    /// Create `key`: it must not exist.
    pub fn create(key: &str, value: Vec<u8>) -> Txn {
        Txn { compares: vec![Compare::Absent(key.into())], ops: vec![Op::Put(key.into(), value)] }
    }

    /// Replace `key`, which must exist (at `expected`, when given).
    pub fn update(key: &str, value: Vec<u8>, expected: Option<u64>) -> Txn {
        Txn { compares: vec![exists(key, expected)], ops: vec![Op::Put(key.into(), value)] }
    }

    /// Delete `key`, which must exist (at `expected`, when given).
    pub fn delete(key: &str, expected: Option<u64>) -> Txn {
        Txn { compares: vec![exists(key, expected)], ops: vec![Op::Delete(key.into())] }
    }

    /// This transaction's compares and ops, then `other`'s.
    pub fn and(mut self, other: Txn) -> Txn {
        self.compares.extend(other.compares);
        self.ops.extend(other.ops);
        self
    }
}

fn exists(key: &str, expected: Option<u64>) -> Compare {
    match expected {
        Some(revision) => Compare::At(key.into(), revision),
        None => Compare::Present(key.into()),
    }
}

impl Compare {
    pub fn key(&self) -> &str {
        match self {
            Compare::Absent(k) | Compare::Present(k) | Compare::At(k, _) => k,
        }
    }

    /// Whether the key's current revision (None: absent) passes, and the error when it does not.
    pub fn check(&self, current: Option<u64>) -> Result<(), StoreError> {
        match (self, current) {
            (Compare::Absent(k), Some(_)) => Err(StoreError::AlreadyExists(k.clone())),
            (Compare::Present(k) | Compare::At(k, _), None) => Err(StoreError::NotFound(k.clone())),
            (Compare::At(k, expected), Some(actual)) if *expected != actual => {
                Err(StoreError::Conflict { key: k.clone(), expected: *expected, actual })
            }
            _ => Ok(()),
        }
    }
}

impl Op {
    pub fn key(&self) -> &str {
        match self {
            Op::Put(k, _) | Op::Delete(k) => k,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn compares_answer_as_the_single_key_writes_do() {
        assert_eq!(Compare::Absent("/a".into()).check(Some(3)), Err(StoreError::AlreadyExists("/a".into())));
        assert_eq!(Compare::Absent("/a".into()).check(None), Ok(()));
        assert_eq!(Compare::Present("/a".into()).check(None), Err(StoreError::NotFound("/a".into())));
        assert_eq!(
            Compare::At("/a".into(), 2).check(Some(3)),
            Err(StoreError::Conflict { key: "/a".into(), expected: 2, actual: 3 })
        );
        assert_eq!(Compare::At("/a".into(), 3).check(Some(3)), Ok(()));
    }
}
