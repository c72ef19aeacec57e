//! The PE32+ fields packaging touches: the optional header's CheckSum, the Certificate Table
//! (security directory) and the Authenticode digest that signatures and catalogs carry.
//!
//! Offsets are from "PE Format" (learn.microsoft.com, Windows / Win32 / Debug): the file
//! header's offset is at 0x3C, the optional header follows the 4-byte signature and the 20-byte
//! COFF header; in PE32+ the CheckSum is at optional-header offset 64 and the data directories
//! start at 112, the Certificate Table being entry 4, whose "virtual address" is a file offset.
//! The digest is the one "Windows Authenticode Portable Executable Signature Format" describes.
use sha2::{Digest, Sha256};

/// Where the fields packaging needs lie in one image.
#[derive(Debug, Clone, Copy)]
pub struct Layout {
    /// File offset of the optional header's CheckSum.
    pub checksum: usize,
    /// File offset of the Certificate Table's data directory entry (8 bytes).
    pub security_dir: usize,
    /// SizeOfHeaders.
    pub headers: usize,
    /// The end of the last section's raw data.
    pub sections_end: usize,
}

fn u16_at(b: &[u8], at: usize) -> Result<u16, String> {
    b.get(at..at + 2)
        .map(|s| u16::from_le_bytes([s[0], s[1]]))
        .ok_or_else(|| format!("truncated image at {at:#x}"))
}

fn u32_at(b: &[u8], at: usize) -> Result<u32, String> {
    b.get(at..at + 4)
        .map(|s| u32::from_le_bytes([s[0], s[1], s[2], s[3]]))
        .ok_or_else(|| format!("truncated image at {at:#x}"))
}

/// Finds the fields of a PE32+ image; refuses anything else.
pub fn layout(b: &[u8]) -> Result<Layout, String> {
    if b.get(..2) != Some(b"MZ") {
        return Err("no MZ header".into());
    }
    let pe = u32_at(b, 0x3C)? as usize;
    if b.get(pe..pe + 4) != Some(b"PE\0\0") {
        return Err("no PE signature".into());
    }
    let sections = u16_at(b, pe + 6)? as usize;
    let optional_size = u16_at(b, pe + 20)? as usize;
    let opt = pe + 24;
    if u16_at(b, opt)? != 0x20B {
        return Err("not PE32+".into());
    }
    if u32_at(b, opt + 108)? < 5 {
        return Err("no Certificate Table directory entry".into());
    }
    let mut raw = Vec::with_capacity(sections);
    let table = opt + optional_size;
    for i in 0..sections {
        let s = table + 40 * i;
        let size = u32_at(b, s + 16)? as usize;
        let at = u32_at(b, s + 20)? as usize;
        if size > 0 {
            raw.push((at, size));
        }
    }
    // The digest hashes the sections as one run after the headers (what lld and link.exe lay
    // out): refuse a gap or an overlap rather than hash bytes Windows' digest would skip.
    raw.sort_unstable();
    let headers = u32_at(b, opt + 60)? as usize;
    let mut sections_end = headers;
    for (at, size) in raw {
        if at != sections_end {
            return Err(format!(
                "section raw data at {at:#x}, not right after {sections_end:#x}"
            ));
        }
        sections_end = at
            .checked_add(size)
            .ok_or_else(|| "section size overflows".to_string())?;
    }
    let layout = Layout {
        checksum: opt + 64,
        security_dir: opt + 112 + 4 * 8,
        headers,
        sections_end,
    };
    if layout.sections_end > b.len() || layout.headers > b.len() {
        return Err("sections past the end of the file".into());
    }
    Ok(layout)
}

/// The CheckSum field as stored.
pub fn stored_checksum(b: &[u8]) -> Result<u32, String> {
    u32_at(b, layout(b)?.checksum)
}

/// The image checksum exactly as imagehlp's `CheckSumMappedFile` (and the kernel loader's
/// check) computes it: the whole file summed as little-endian 16-bit words with the carry
/// folded back in (an odd last byte a word of its own), then the stored CheckSum field's two
/// words taken out again with an end-around borrow in 16 bits, plus the file length. (Reading
/// the field as zero instead differs when the rest sums to 0xFFFF, one image in 65,536.)
pub fn compute_checksum(b: &[u8]) -> Result<u32, String> {
    let field = layout(b)?.checksum;
    let mut sum: u32 = 0;
    for pair in b.chunks(2) {
        sum += u32::from(pair[0]) | (u32::from(*pair.get(1).unwrap_or(&0)) << 8);
        sum = (sum & 0xFFFF) + (sum >> 16);
    }
    let mut partial = ((sum + (sum >> 16)) & 0xFFFF) as u16;
    for word in [u16_at(b, field)?, u16_at(b, field + 2)?] {
        partial = partial
            .wrapping_sub(u16::from(partial < word))
            .wrapping_sub(word);
    }
    let len = u32::try_from(b.len()).map_err(|_| "image over 4 GiB")?;
    Ok(u32::from(partial).wrapping_add(len))
}

/// Writes the correct checksum into the image: the value Windows computes from the image with
/// that very value stored (computed once from the field as zero, then again with it in place,
/// which settles the one ambiguous case of one's-complement zero).
pub fn set_checksum(b: &mut [u8]) -> Result<u32, String> {
    let at = layout(b)?.checksum;
    b[at..at + 4].copy_from_slice(&[0; 4]);
    let mut sum = compute_checksum(b)?;
    for _ in 0..2 {
        b[at..at + 4].copy_from_slice(&sum.to_le_bytes());
        let again = compute_checksum(b)?;
        if again == sum {
            return Ok(sum);
        }
        sum = again;
    }
    Err("no stable checksum".into())
}

/// `Ok(())` when the stored checksum is present (non-zero) and right.
pub fn verify_checksum(b: &[u8]) -> Result<(), String> {
    let (stored, computed) = (stored_checksum(b)?, compute_checksum(b)?);
    match stored {
        0 => Err(format!(
            "PE checksum missing (0; the image sums to {computed:#010x})"
        )),
        s if s != computed => Err(format!(
            "PE checksum {s:#010x} is wrong: the image sums to {computed:#010x}"
        )),
        _ => Ok(()),
    }
}

/// The Certificate Table entry: (file offset, size); (0, 0) when the image is unsigned.
pub fn certificate_table(b: &[u8]) -> Result<(usize, usize), String> {
    let at = layout(b)?.security_dir;
    Ok((u32_at(b, at)? as usize, u32_at(b, at + 4)? as usize))
}

/// The Authenticode SHA-256 digest: the headers without the CheckSum and the Certificate Table
/// entry, then everything after the headers up to the Certificate Table (or the end of the
/// file). This equals the specification's "sections in file order, then the remaining data"
/// for an image whose sections follow the headers contiguously, which `layout` and this
/// function check.
pub fn authenticode_sha256(b: &[u8]) -> Result<[u8; 32], String> {
    let d = authenticode_digest::<Sha256>(b)?;
    d.try_into().map_err(|_| "digest length".into())
}

/// The Authenticode digest with any hash (catalogs also key images by SHA-1).
pub fn authenticode_digest<D: Digest>(b: &[u8]) -> Result<Vec<u8>, String> {
    let l = layout(b)?;
    let (cert_at, cert_len) = certificate_table(b)?;
    let end = if cert_len == 0 { b.len() } else { cert_at };
    if end > b.len()
        || end < l.sections_end
        || end < l.security_dir + 8
        || cert_at + cert_len > b.len()
    {
        return Err("the Certificate Table overlaps the sections or the file end".into());
    }
    let mut h = D::new();
    h.update(&b[..l.checksum]);
    h.update(&b[l.checksum + 4..l.security_dir]);
    h.update(&b[l.security_dir + 8..end]);
    Ok(h.finalize().to_vec())
}

/// Appends a PKCS#7 SignedData as the image's only WIN_CERTIFICATE (revision 2.0, type
/// PKCS_SIGNED_DATA), 8-byte aligned as "PE Format" requires of the attribute certificate
/// table, points the Certificate Table entry at it, and recomputes the checksum (which
/// covers the certificate). Refuses an image that is already signed.
pub fn embed_signature(b: &mut Vec<u8>, pkcs7: &[u8]) -> Result<(), String> {
    let l = layout(b)?;
    if certificate_table(b)? != (0, 0) {
        return Err("image already signed".into());
    }
    if b.len() < l.sections_end {
        return Err("truncated image".into());
    }
    if !b.len().is_multiple_of(8) {
        // The padding is hashed: it must be there before the digest is taken.
        return Err("image not padded to 8 bytes before signing (pad_for_signing)".into());
    }
    let at = b.len();
    let mut entry = Vec::with_capacity(8 + pkcs7.len() + 8);
    let total = 8 + pkcs7.len();
    let padded = total.div_ceil(8) * 8;
    entry.extend_from_slice(
        &(u32::try_from(padded).map_err(|_| "signature too large")?).to_le_bytes(),
    );
    entry.extend_from_slice(&0x0200u16.to_le_bytes()); // WIN_CERT_REVISION_2_0
    entry.extend_from_slice(&0x0002u16.to_le_bytes()); // WIN_CERT_TYPE_PKCS_SIGNED_DATA
    entry.extend_from_slice(pkcs7);
    entry.resize(padded, 0);
    b.extend_from_slice(&entry);
    let dir = l.security_dir;
    b[dir..dir + 4].copy_from_slice(&(at as u32).to_le_bytes());
    b[dir + 4..dir + 8].copy_from_slice(&(padded as u32).to_le_bytes());
    set_checksum(b)?;
    Ok(())
}

/// Pads the image with zeros to a multiple of 8 bytes, where the attribute certificate table
/// will start ("PE Format"), and recomputes the checksum. The Authenticode digest covers the
/// padding, so this comes before the digest is taken.
pub fn pad_for_signing(b: &mut Vec<u8>) -> Result<(), String> {
    while !b.len().is_multiple_of(8) {
        b.push(0);
    }
    set_checksum(b).map(|_| ())
}

/// The PKCS#7 blob of the image's signature, if it has one.
pub fn embedded_signature(b: &[u8]) -> Result<Option<&[u8]>, String> {
    let (at, len) = certificate_table(b)?;
    if len == 0 {
        return Ok(None);
    }
    let entry = b
        .get(at..at + len)
        .ok_or("Certificate Table past the end")?;
    let dw_len = u32_at(entry, 0)? as usize;
    if u16_at(entry, 4)? != 0x0200 || u16_at(entry, 6)? != 0x0002 || dw_len < 8 {
        return Err("not a PKCS#7 WIN_CERTIFICATE".into());
    }
    let blob = entry
        .get(8..dw_len)
        .ok_or("WIN_CERTIFICATE length past its entry")?;
    // The entry is padded to 8 bytes: keep exactly the DER SEQUENCE.
    Ok(Some(
        blob.get(..der_length(blob)?).ok_or("truncated PKCS#7")?,
    ))
}

/// Total length (header and contents) of the DER element `b` starts with.
fn der_length(b: &[u8]) -> Result<usize, String> {
    let first = *b.get(1).ok_or("empty DER")?;
    if first < 0x80 {
        return Ok(2 + first as usize);
    }
    let n = (first & 0x7F) as usize;
    if n == 0 || n > 4 {
        return Err("unsupported DER length".into());
    }
    let bytes = b.get(2..2 + n).ok_or("truncated DER length")?;
    let len = bytes.iter().fold(0usize, |a, &x| (a << 8) | x as usize);
    Ok(2 + n + len)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A minimal PE32+ image: headers in the first 0x200 bytes, one 0x200-byte section.
    fn image() -> Vec<u8> {
        let mut b = vec![0u8; 0x400];
        b[..2].copy_from_slice(b"MZ");
        b[0x3C..0x40].copy_from_slice(&0x40u32.to_le_bytes());
        b[0x40..0x44].copy_from_slice(b"PE\0\0");
        b[0x44..0x46].copy_from_slice(&0x8664u16.to_le_bytes());
        b[0x46..0x48].copy_from_slice(&1u16.to_le_bytes());
        b[0x54..0x56].copy_from_slice(&240u16.to_le_bytes());
        let opt = 0x58;
        b[opt..opt + 2].copy_from_slice(&0x20Bu16.to_le_bytes());
        b[opt + 60..opt + 64].copy_from_slice(&0x200u32.to_le_bytes());
        b[opt + 108..opt + 112].copy_from_slice(&16u32.to_le_bytes());
        let section = opt + 240;
        b[section..section + 5].copy_from_slice(b".text");
        b[section + 16..section + 20].copy_from_slice(&0x200u32.to_le_bytes());
        b[section + 20..section + 24].copy_from_slice(&0x200u32.to_le_bytes());
        for (i, x) in b[0x200..].iter_mut().enumerate() {
            *x = (i * 7 + 3) as u8;
        }
        b
    }

    #[test]
    fn checksum_set_checked_and_refused_when_missing_or_stale() {
        let mut b = image();
        assert!(verify_checksum(&b).unwrap_err().contains("missing"));
        let sum = set_checksum(&mut b).unwrap();
        assert_eq!(stored_checksum(&b), Ok(sum));
        assert_eq!(verify_checksum(&b), Ok(()));
        b[0x300] ^= 1;
        assert!(verify_checksum(&b).unwrap_err().contains("wrong"));
    }

    #[test]
    fn signing_leaves_the_authenticode_digest_and_fixes_the_checksum() {
        let mut b = image();
        set_checksum(&mut b).unwrap();
        let digest = authenticode_sha256(&b).unwrap();
        let blob = [0x30, 0x03, 0x02, 0x01, 0x01];
        embed_signature(&mut b, &blob).unwrap();
        assert_eq!(authenticode_sha256(&b).unwrap(), digest);
        assert_eq!(verify_checksum(&b), Ok(()));
        assert_eq!(embedded_signature(&b).unwrap(), Some(&blob[..]));
        let (at, len) = certificate_table(&b).unwrap();
        assert_eq!((at % 8, len % 8, at + len), (0, 0, b.len()));
        assert!(embed_signature(&mut b, &blob).is_err(), "signed twice");
        // The digest covers the sections.
        let mut other = image();
        other[0x250] ^= 1;
        assert_ne!(authenticode_sha256(&other).unwrap(), digest);
    }

    #[test]
    fn truncated_or_foreign_files_are_errors_not_panics() {
        let full = image();
        for len in 0..full.len() {
            let b = &full[..len];
            let _ = layout(b);
            let _ = compute_checksum(b);
            let _ = authenticode_sha256(b);
            let _ = embedded_signature(b);
        }
        assert!(layout(b"MZ").is_err());
        let mut pe32 = full.clone();
        pe32[0x58..0x5A].copy_from_slice(&0x10Bu16.to_le_bytes());
        assert!(layout(&pe32).unwrap_err().contains("PE32+"));
    }
}

/// Found in review (issue 13): Windows' own checksum algorithm as a second implementation,
/// the negative-zero edge, signing an unaligned image, a gap after the headers.
#[cfg(test)]
mod review13 {
    use super::*;

    /// imagehlp's CheckSumMappedFile / ntdll's LdrVerifyMappedImageMatchesChecksum, as the NT
    /// sources write it: the whole file summed (checksum field included), then the field's two
    /// words subtracted with an end-around borrow, in a USHORT.
    fn windows_checksum(b: &[u8]) -> u32 {
        let mut p: u32 = 0;
        for pair in b.chunks(2) {
            p += u32::from(pair[0]) | (u32::from(*pair.get(1).unwrap_or(&0)) << 8);
            p = (p >> 16) + (p & 0xFFFF);
        }
        let mut s = (((p >> 16) + p) & 0xFFFF) as u16;
        let f = layout(b).unwrap().checksum;
        let a0 = u16::from_le_bytes([b[f], b[f + 1]]);
        let a1 = u16::from_le_bytes([b[f + 2], b[f + 3]]);
        s = s.wrapping_sub(u16::from(s < a0)).wrapping_sub(a0);
        s = s.wrapping_sub(u16::from(s < a1)).wrapping_sub(a1);
        u32::from(s) + b.len() as u32
    }

    fn image() -> Vec<u8> {
        let mut b = vec![0u8; 0x400];
        b[..2].copy_from_slice(b"MZ");
        b[0x3C..0x40].copy_from_slice(&0x40u32.to_le_bytes());
        b[0x40..0x44].copy_from_slice(b"PE\0\0");
        b[0x46..0x48].copy_from_slice(&1u16.to_le_bytes());
        b[0x54..0x56].copy_from_slice(&240u16.to_le_bytes());
        b[0x58..0x5A].copy_from_slice(&0x20Bu16.to_le_bytes());
        b[0x58 + 60..0x58 + 64].copy_from_slice(&0x200u32.to_le_bytes());
        b[0x58 + 108..0x58 + 112].copy_from_slice(&16u32.to_le_bytes());
        b
    }

    #[test]
    fn checksum_agrees_with_windows_when_the_sum_is_negative_zero() {
        let mut b = image();
        // One data word chosen so that the file's one's-complement sum (field as 0) is 0xFFFF.
        for v in 0..=u16::MAX {
            b[0x300..0x302].copy_from_slice(&v.to_le_bytes());
            if compute_checksum(&b).unwrap() - b.len() as u32 == 0xFFFF {
                break;
            }
        }
        set_checksum(&mut b).unwrap();
        assert_eq!(
            verify_checksum(&b),
            Ok(()),
            "xtask accepts its own checksum"
        );
        assert_eq!(
            stored_checksum(&b).unwrap(),
            windows_checksum(&b),
            "Windows' CheckSumMappedFile computes another value"
        );
    }

    #[test]
    fn checksum_agrees_with_windows_on_random_images() {
        let mut b = image();
        let mut x: u32 = 1;
        for _ in 0..20000 {
            for i in (0x200..0x400).step_by(4) {
                x ^= x << 13;
                x ^= x >> 17;
                x ^= x << 5;
                b[i..i + 4].copy_from_slice(&x.to_le_bytes());
            }
            set_checksum(&mut b).unwrap();
            assert_eq!(stored_checksum(&b).unwrap(), windows_checksum(&b));
        }
    }

    fn sectioned() -> Vec<u8> {
        let mut b = image();
        let s = 0x58 + 240;
        b[s..s + 5].copy_from_slice(b".text");
        b[s + 16..s + 20].copy_from_slice(&0x200u32.to_le_bytes());
        b[s + 20..s + 24].copy_from_slice(&0x200u32.to_le_bytes());
        for (i, x) in b[0x200..].iter_mut().enumerate() {
            *x = (i * 7 + 3) as u8;
        }
        b
    }

    /// An image whose length is not a multiple of 8 (4 bytes of overlay after the sections):
    /// the digest signed is taken before embed_signature pads the file, the digest of the
    /// signed file after; they differ, so the embedded signature cannot verify.
    #[test]
    fn signing_an_unaligned_image_keeps_its_digest() {
        let mut b = sectioned();
        b.extend_from_slice(&[1, 2, 3, 4]);
        set_checksum(&mut b).unwrap();
        pad_for_signing(&mut b).unwrap();
        let signed_digest = authenticode_sha256(&b).unwrap();
        embed_signature(&mut b, &[0x30, 0x03, 0x02, 0x01, 0x01]).unwrap();
        assert_eq!(authenticode_sha256(&b).unwrap(), signed_digest);
    }

    /// The doc says the contiguous hashing is only used when `layout` and the digest check
    /// that sections follow the headers contiguously. A gap between SizeOfHeaders and the
    /// first section is not refused (Windows' ImageGetDigestStream would not hash it).
    #[test]
    fn a_gap_after_the_headers_is_refused() {
        let mut b = sectioned();
        let s = 0x58 + 240;
        b[s + 16..s + 20].copy_from_slice(&0x100u32.to_le_bytes()); // raw size 0x100
        b[s + 20..s + 24].copy_from_slice(&0x300u32.to_le_bytes()); // raw at 0x300: gap 0x200..0x300
        assert!(
            authenticode_sha256(&b).is_err(),
            "a gap between headers and sections was hashed"
        );
    }
}
