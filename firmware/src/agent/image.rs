//! The byte-level checks of one firmware image as it arrives (sans-IO): the ESP8266 magic
//! byte first, never more than the announced size, MD5 over everything, and where the 1/n
//! progress steps fall. The agent core owns it between downloads; while a download runs, the
//! runner's download task holds it and feeds it the bytes as they come off the socket, so the
//! image is checked, hashed and written in one place without handing chunks between tasks.

use md5::{Digest, Md5};
use provisio_model::protocol::ESP8266_MAGIC_BYTE;

use super::core::reasons;

/// Checks for one image; see the module docs.
#[derive(Debug, Clone)]
pub struct ImageCheck {
    size: u64,
    hash: String,
    written: u64,
    md5: Md5,
    step: u64,
    next_progress: u64,
}

impl ImageCheck {
    /// An image of `size` bytes whose MD5 is `hash` (hex, any case), reporting progress every
    /// `size / progress_steps` bytes (never with 0 steps).
    pub fn new(size: u64, hash: &str, progress_steps: u64) -> Self {
        let step = match progress_steps {
            0 => u64::MAX,
            n => size.div_ceil(n).max(1),
        };
        ImageCheck {
            size,
            hash: hash.to_ascii_lowercase(),
            written: 0,
            md5: Md5::new(),
            step,
            next_progress: step,
        }
    }

    /// The announced size.
    pub fn size(&self) -> u64 {
        self.size
    }

    /// Bytes accepted so far (where a resumed download starts).
    pub fn written(&self) -> u64 {
        self.written
    }

    /// Check the next bytes and add them to the MD5. `Ok(true)` when they reached a progress
    /// step (or the end); `Err` names the reason the install fails (nothing is counted then).
    pub fn accept(&mut self, data: &[u8]) -> Result<bool, &'static str> {
        if data.is_empty() {
            return Ok(false);
        }
        if self.written == 0 && data[0] != ESP8266_MAGIC_BYTE {
            return Err(reasons::BAD_MAGIC_BYTE);
        }
        if self.written + data.len() as u64 > self.size {
            return Err(reasons::SIZE_MISMATCH);
        }
        self.md5.update(data);
        self.written += data.len() as u64;
        if self.written < self.next_progress && self.written != self.size {
            return Ok(false);
        }
        while self.next_progress <= self.written {
            self.next_progress = self.next_progress.saturating_add(self.step);
        }
        Ok(self.step != u64::MAX)
    }

    /// The whole image arrived: its size and MD5 match. Returns the MD5 (lowercase hex).
    pub fn verify(&self) -> Result<String, &'static str> {
        if self.written != self.size {
            return Err(reasons::SIZE_MISMATCH);
        }
        let digest = hex::encode(self.md5.clone().finalize());
        if digest != self.hash {
            return Err(reasons::MD5_MISMATCH);
        }
        Ok(digest)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn image(n: usize) -> Vec<u8> {
        let mut v: Vec<u8> = (0..n).map(|i| (i % 251) as u8).collect();
        v[0] = ESP8266_MAGIC_BYTE;
        v
    }

    #[test]
    fn accepts_an_image_in_pieces_and_verifies_it() {
        let img = image(1000);
        let mut c = ImageCheck::new(1000, &hex::encode(Md5::digest(&img)).to_uppercase(), 4);
        let steps: Vec<bool> = img.chunks(100).map(|p| c.accept(p).unwrap()).collect();
        // Steps every 250 bytes: after 300, 500, 800 and 1000 bytes.
        assert_eq!(steps.iter().filter(|s| **s).count(), 4, "{steps:?}");
        assert_eq!(c.written(), 1000);
        assert_eq!(c.verify().unwrap(), hex::encode(Md5::digest(&img)));
    }

    #[test]
    fn refuses_a_bad_first_byte_an_overlong_image_and_a_wrong_hash() {
        let img = image(10);
        let mut c = ImageCheck::new(10, &hex::encode(Md5::digest(&img)), 0);
        assert_eq!(c.accept(&[0u8; 3]), Err(reasons::BAD_MAGIC_BYTE));
        assert_eq!(c.written(), 0);
        assert_eq!(c.accept(&img), Ok(false));
        assert_eq!(c.accept(&[1]), Err(reasons::SIZE_MISMATCH));
        let mut short = ImageCheck::new(11, "00", 0);
        short.accept(&img).unwrap();
        assert_eq!(short.verify(), Err(reasons::SIZE_MISMATCH));
        let mut wrong = ImageCheck::new(10, "00", 0);
        wrong.accept(&img).unwrap();
        assert_eq!(wrong.verify(), Err(reasons::MD5_MISMATCH));
    }
}
