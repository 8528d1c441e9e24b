//! The versioned model artifact format (blob `models/reco/<model>/<version>`).
//!
//! Layout: the magic `RECO`, a format version (u16 LE), the model kind name's length (u8) and
//! bytes, the payload length (u64 LE), the xxh3-64 checksum of the payload (u64 LE), then the
//! payload: the model (with its id maps) in `postcard`, a compact serde format (f32 as 4 LE
//! bytes, integers as varints). A reader checks magic, version, kind and checksum before
//! decoding; any mismatch is an error, never a panic.

use serde::{Serialize, de::DeserializeOwned};
use thiserror::Error;
use xxhash_rust::xxh3::xxh3_64;

use super::model::ModelKind;

const MAGIC: &[u8; 4] = b"RECO";
/// Bumped when the layout or a model's serialised shape changes incompatibly.
pub const FORMAT_VERSION: u16 = 1;

#[derive(Debug, Error, PartialEq, Eq)]
pub enum ArtifactError {
    #[error("not a model artifact (bad magic)")]
    BadMagic,
    #[error("artifact format version {0} is not supported (this build reads {FORMAT_VERSION})")]
    Version(u16),
    #[error("artifact holds a `{found}` model, `{expected}` was expected")]
    WrongKind { expected: String, found: String },
    #[error("artifact is truncated")]
    Truncated,
    #[error("artifact checksum mismatch")]
    Checksum,
    #[error("artifact payload does not decode: {0}")]
    Decode(String),
    #[error("model does not encode: {0}")]
    Encode(String),
}

/// Encodes `model` of `kind` into an artifact.
pub fn encode<T: Serialize>(kind: ModelKind, model: &T) -> Result<Vec<u8>, ArtifactError> {
    let payload = postcard::to_allocvec(model).map_err(|e| ArtifactError::Encode(e.to_string()))?;
    let name = kind.name().as_bytes();
    let mut out = Vec::with_capacity(payload.len() + 32);
    out.extend_from_slice(MAGIC);
    out.extend_from_slice(&FORMAT_VERSION.to_le_bytes());
    out.push(name.len() as u8);
    out.extend_from_slice(name);
    out.extend_from_slice(&(payload.len() as u64).to_le_bytes());
    out.extend_from_slice(&xxh3_64(&payload).to_le_bytes());
    out.extend_from_slice(&payload);
    Ok(out)
}

fn take<'a>(bytes: &mut &'a [u8], n: usize) -> Result<&'a [u8], ArtifactError> {
    if bytes.len() < n {
        return Err(ArtifactError::Truncated);
    }
    let (head, rest) = bytes.split_at(n);
    *bytes = rest;
    Ok(head)
}

fn u64_le(b: &[u8]) -> u64 {
    let mut a = [0u8; 8];
    a.copy_from_slice(b);
    u64::from_le_bytes(a)
}

/// Decodes an artifact that must hold a model of `kind`.
pub fn decode<T: DeserializeOwned>(kind: ModelKind, bytes: &[u8]) -> Result<T, ArtifactError> {
    let mut rest = bytes;
    if take(&mut rest, 4)? != MAGIC {
        return Err(ArtifactError::BadMagic);
    }
    let v = take(&mut rest, 2)?;
    let version = u16::from_le_bytes([v[0], v[1]]);
    if version != FORMAT_VERSION {
        return Err(ArtifactError::Version(version));
    }
    let name_len = take(&mut rest, 1)?[0] as usize;
    let name = take(&mut rest, name_len)?;
    if name != kind.name().as_bytes() {
        return Err(ArtifactError::WrongKind {
            expected: kind.name().to_string(),
            found: String::from_utf8_lossy(name).into_owned(),
        });
    }
    let len = u64_le(take(&mut rest, 8)?);
    let sum = u64_le(take(&mut rest, 8)?);
    if rest.len() as u64 != len {
        return Err(ArtifactError::Truncated);
    }
    if xxh3_64(rest) != sum {
        return Err(ArtifactError::Checksum);
    }
    postcard::from_bytes(rest).map_err(|e| ArtifactError::Decode(e.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde::Deserialize;

    #[derive(Debug, PartialEq, Serialize, Deserialize)]
    struct Toy {
        ids: Vec<String>,
        factors: Vec<f32>,
    }

    fn toy() -> Toy {
        Toy {
            ids: vec!["a".into(), "b".into()],
            factors: vec![0.5, -1.25, 3.0],
        }
    }

    #[test]
    fn round_trip() {
        let bytes = encode(ModelKind::Als, &toy()).expect("encode");
        assert_eq!(&bytes[..4], b"RECO");
        assert_eq!(decode::<Toy>(ModelKind::Als, &bytes), Ok(toy()));
    }

    #[test]
    fn every_corruption_is_an_error() {
        let bytes = encode(ModelKind::Als, &toy()).expect("encode");
        let mut flipped = bytes.clone();
        let last = flipped.len() - 1;
        flipped[last] ^= 0x40;
        assert_eq!(
            decode::<Toy>(ModelKind::Als, &flipped),
            Err(ArtifactError::Checksum)
        );
        assert_eq!(
            decode::<Toy>(ModelKind::Als, &bytes[..bytes.len() - 1]),
            Err(ArtifactError::Truncated)
        );
        assert_eq!(
            decode::<Toy>(ModelKind::Als, b"NOPE"),
            Err(ArtifactError::BadMagic)
        );
        assert!(matches!(
            decode::<Toy>(ModelKind::Ease, &bytes),
            Err(ArtifactError::WrongKind { .. })
        ));
        for n in 0..bytes.len() {
            assert!(decode::<Toy>(ModelKind::Als, &bytes[..n]).is_err());
        }
    }
}
