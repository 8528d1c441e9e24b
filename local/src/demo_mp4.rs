//! Tiny, deterministic, playable H.264 MP4 files for demo data (e.g. the clips of a
//! shoppable-video feed), generated in pure Rust with no C toolchain and no ffmpeg.
//!
//! How a file is made:
//! 1. Pixels: each frame is drawn from `seed` (a SplitMix64 stream picks the colours): a
//!    vertical two-colour gradient background, a "product card" square that bobs up and down,
//!    and a progress bar along the bottom that fills up over the clip, so every frame differs.
//!    The RGB pixels are converted to 8-bit full-range BT.601 YCbCr 4:2:0.
//! 2. Video: [`less_avc`] encodes every frame as an H.264 IDR picture made of I_PCM macroblocks
//!    (Baseline profile, lossless, no prediction). That is simple and robust, but it is not
//!    compression: each frame costs about 1.5 bytes per pixel (a 64x112 frame is ~10.8 KB).
//! 3. Container: [`mp4::Mp4Writer`] writes `ftyp`, `mdat` and `moov` (one `avc1` track with an
//!    `avcC` built from less-avc's SPS/PPS; samples are length-prefixed NAL units).
//!
//! Hand-written parts, and why:
//! - The SPS `level_idc` byte is rewritten ([`patch_sps_level`]): less-avc always signals level
//!   1.0, which is too low for the I_PCM bit rate (and for frames over 99 macroblocks), and a
//!   strict (hardware) decoder may refuse or under-allocate for a stream that exceeds its level.
//! - The finished file is rearranged to `ftyp, moov, mdat` ("fast start") in [`fast_start`]:
//!   `Mp4Writer` always puts `moov` after `mdat`, which makes a browser fetch the end of the
//!   file before it can start playing. The `moov` is re-serialised with the `mp4` crate's own
//!   box types (only the chunk offsets move, plus three header fields `Mp4Writer` leaves at
//!   odd defaults: `tkhd` flags lack "in movie", `tkhd` volume is 1 on a video track, and
//!   `mvhd.next_track_id` is 1 although track 1 exists). Only the top-level box scan is by hand.

use std::io::Cursor;

use anyhow::{Context, bail, ensure};
use less_avc::ycbcr_image::{DataPlane, Planes, YCbCrImage};
use less_avc::{BitDepth, LessEncoder};
use mp4::{
    AvcConfig, Bytes, FourCC, MediaConfig, Mp4Config, Mp4Reader, Mp4Sample, Mp4Writer, TrackConfig,
    TrackType, WriteBox,
};

/// Default demo clip: portrait, 64x112 pixels, 12 frames at 10 fps (1.2 s, about 130 KB).
pub const DEFAULT_WIDTH: u16 = 64;
/// See [`DEFAULT_WIDTH`].
pub const DEFAULT_HEIGHT: u16 = 112;
/// See [`DEFAULT_WIDTH`].
pub const DEFAULT_FRAMES: u32 = 12;
/// See [`DEFAULT_WIDTH`].
pub const DEFAULT_FPS: u32 = 10;

/// Largest accepted frame rate (keeps the track timescale `fps * 1000` well inside `u32`).
const MAX_FPS: u32 = 240;
/// Largest accepted number of frames (I_PCM is ~1.5 bytes per pixel per frame).
const MAX_FRAMES: u32 = 10_000;
/// Ticks per frame in the track timescale (`fps * TICKS_PER_FRAME` ticks per second).
const TICKS_PER_FRAME: u32 = 1000;

/// A short playable H.264 MP4 (ftyp at the start), deterministic for a given seed: `width`x`height`
/// pixels (multiples of 16), `frames` frames at `fps`, a colour pattern derived from `seed`.
pub fn demo_mp4(
    seed: u64,
    width: u16,
    height: u16,
    frames: u32,
    fps: u32,
) -> anyhow::Result<Vec<u8>> {
    ensure!(
        width >= 16 && height >= 16 && width.is_multiple_of(16) && height.is_multiple_of(16),
        "width and height must be non-zero multiples of 16, got {width}x{height}"
    );
    ensure!(
        (1..=MAX_FRAMES).contains(&frames),
        "frames must be in 1..={MAX_FRAMES}, got {frames}"
    );
    ensure!(
        (1..=MAX_FPS).contains(&fps),
        "fps must be in 1..={MAX_FPS}, got {fps}"
    );

    let palette = Palette::from_seed(seed);
    let (w, h) = (usize::from(width), usize::from(height));

    // Encode every frame into one AVCC sample (4-byte big-endian length + NAL unit).
    let mut samples: Vec<Vec<u8>> = Vec::with_capacity(frames as usize);
    let mut encoder: Option<LessEncoder> = None;
    let mut param_sets: Option<(Vec<u8>, Vec<u8>)> = None;
    for index in 0..frames {
        let planes = draw_frame(&palette, w, h, index, frames);
        let image = planes.image(width, height);
        let slice = match encoder.as_mut() {
            Some(enc) => enc
                .encode(&image)
                .with_context(|| format!("less-avc: encoding frame {index}"))?,
            None => {
                let (initial, enc) =
                    LessEncoder::new(&image).context("less-avc: starting the encoder")?;
                let mut sps = initial.sps.to_nal_unit();
                patch_sps_level(&mut sps, w, h, fps)?;
                param_sets = Some((sps, initial.pps.to_nal_unit()));
                encoder = Some(enc);
                initial.frame
            }
        };
        let nal = slice.to_nal_unit();
        let len = u32::try_from(nal.len()).context("NAL unit larger than 4 GiB")?;
        let mut sample = Vec::with_capacity(4 + nal.len());
        sample.extend_from_slice(&len.to_be_bytes());
        sample.extend_from_slice(&nal);
        samples.push(sample);
    }
    let Some((sps, pps)) = param_sets else {
        bail!("no frame was encoded");
    };

    // Mux with the mp4 crate (moov at the end), then move moov to the front.
    let config = Mp4Config {
        major_brand: FourCC::from(*b"isom"),
        minor_version: 512,
        compatible_brands: vec![
            FourCC::from(*b"isom"),
            FourCC::from(*b"iso2"),
            FourCC::from(*b"avc1"),
            FourCC::from(*b"mp41"),
        ],
        timescale: 1000,
    };
    let mut writer = Mp4Writer::write_start(Cursor::new(Vec::new()), &config)?;
    writer.add_track(&TrackConfig {
        track_type: TrackType::Video,
        timescale: fps * TICKS_PER_FRAME,
        language: String::from("und"),
        media_conf: MediaConfig::AvcConfig(AvcConfig {
            width,
            height,
            seq_param_set: sps,
            pic_param_set: pps,
        }),
    })?;
    for (index, sample) in samples.into_iter().enumerate() {
        writer.write_sample(
            1,
            &Mp4Sample {
                start_time: index as u64 * u64::from(TICKS_PER_FRAME),
                duration: TICKS_PER_FRAME,
                rendering_offset: 0,
                is_sync: true, // every frame is an IDR picture
                bytes: Bytes::from(sample),
            },
        )?;
    }
    writer.write_end()?;
    fast_start(&writer.into_writer().into_inner())
}

/// Colours of one clip, drawn from the seed.
struct Palette {
    top: [u8; 3],
    bottom: [u8; 3],
    card: [u8; 3],
    bar: [u8; 3],
    /// The unfilled part of the progress bar.
    track: [u8; 3],
    /// Horizontal position of the card, in 1/256 of the free width.
    card_x: u32,
}

impl Palette {
    fn from_seed(seed: u64) -> Self {
        let mut state = seed;
        let mut colour = || {
            let [r, g, b, ..] = splitmix64(&mut state).to_le_bytes();
            [r, g, b]
        };
        let top = colour();
        let bottom = colour();
        let card = colour();
        // A light or dark bar, whichever stands out against the bottom colour.
        let (bar, track) = if luma(bottom) < 128 {
            ([240, 240, 240], [60, 60, 60])
        } else {
            ([20, 20, 20], [190, 190, 190])
        };
        let card_x = (splitmix64(&mut state) & 0xff) as u32;
        Self {
            top,
            bottom,
            card,
            bar,
            track,
            card_x,
        }
    }
}

/// SplitMix64: a tiny, well-mixed, deterministic generator (no `rand` dependency needed).
fn splitmix64(state: &mut u64) -> u64 {
    *state = state.wrapping_add(0x9E37_79B9_7F4A_7C15);
    let mut z = *state;
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

/// One frame as YCbCr 4:2:0 planes (strides equal the plane widths).
struct Frame {
    y: Vec<u8>,
    cb: Vec<u8>,
    cr: Vec<u8>,
    width: usize,
}

impl Frame {
    fn image(&self, width: u16, height: u16) -> YCbCrImage<'_> {
        YCbCrImage {
            planes: Planes::YCbCr((
                DataPlane {
                    data: &self.y,
                    stride: self.width,
                    bit_depth: BitDepth::Depth8,
                },
                DataPlane {
                    data: &self.cb,
                    stride: self.width / 2,
                    bit_depth: BitDepth::Depth8,
                },
                DataPlane {
                    data: &self.cr,
                    stride: self.width / 2,
                    bit_depth: BitDepth::Depth8,
                },
            )),
            width: u32::from(width),
            height: u32::from(height),
        }
    }
}

/// Draw frame `index` of `frames` (RGB) and convert it to YCbCr 4:2:0.
fn draw_frame(p: &Palette, w: usize, h: usize, index: u32, frames: u32) -> Frame {
    let side = w / 2;
    let card_x0 = (w - side) * p.card_x as usize / 255;
    // The card bobs through one full cycle over the clip, within the middle half of the height.
    let phase = f64::from(index) / f64::from(frames) * std::f64::consts::TAU;
    let travel = (h / 2).saturating_sub(side) as f64;
    let card_y0 = h / 4 + ((1.0 - phase.cos()) * 0.5 * travel) as usize;
    let bar_h = (h / 28).max(2);
    let bar_w = w * (index as usize + 1) / frames as usize;

    let rgb_at = |x: usize, y: usize| -> [u8; 3] {
        if y >= h - bar_h {
            if x < bar_w { p.bar } else { p.track }
        } else if (card_x0..card_x0 + side).contains(&x) && (card_y0..card_y0 + side).contains(&y) {
            p.card
        } else {
            let t = (y * 256 / h) as u32;
            let mix = |a: u8, b: u8| ((u32::from(a) * (256 - t) + u32::from(b) * t) >> 8) as u8;
            [
                mix(p.top[0], p.bottom[0]),
                mix(p.top[1], p.bottom[1]),
                mix(p.top[2], p.bottom[2]),
            ]
        }
    };

    let mut frame = Frame {
        y: vec![0; w * h],
        cb: vec![0; w * h / 4],
        cr: vec![0; w * h / 4],
        width: w,
    };
    for cy in 0..h / 2 {
        for cx in 0..w / 2 {
            let (mut cb_sum, mut cr_sum) = (0i32, 0i32);
            for (dx, dy) in [(0, 0), (1, 0), (0, 1), (1, 1)] {
                let (x, y) = (2 * cx + dx, 2 * cy + dy);
                let (yy, cb, cr) = rgb_to_ycbcr(rgb_at(x, y));
                frame.y[y * w + x] = yy;
                cb_sum += i32::from(cb);
                cr_sum += i32::from(cr);
            }
            frame.cb[cy * (w / 2) + cx] = ((cb_sum + 2) / 4) as u8;
            frame.cr[cy * (w / 2) + cx] = ((cr_sum + 2) / 4) as u8;
        }
    }
    frame
}

fn luma([r, g, b]: [u8; 3]) -> i32 {
    (77 * i32::from(r) + 150 * i32::from(g) + 29 * i32::from(b) + 128) >> 8
}

/// Full-range BT.601 RGB -> YCbCr (less-avc's VUI signals full range; no matrix is signalled,
/// so decoders assume BT.601).
fn rgb_to_ycbcr(rgb: [u8; 3]) -> (u8, u8, u8) {
    let [r, g, b] = rgb.map(i32::from);
    let clamp = |v: i32| v.clamp(0, 255) as u8;
    let y = luma(rgb);
    let cb = ((-43 * r - 85 * g + 128 * b + 128) >> 8) + 128;
    let cr = ((128 * r - 107 * g - 21 * b + 128) >> 8) + 128;
    (clamp(y), clamp(cb), clamp(cr))
}

/// Set `level_idc` (byte 3 of the SPS NAL unit: header, profile_idc, constraint flags, level)
/// to the lowest H.264 level (Table A-1, Baseline bit rates) that fits the picture size, the
/// macroblock rate and the I_PCM bit rate; level 5.2 if nothing fits.
///
/// Writing a non-zero byte here cannot create a start-code emulation (`00 00 0x`), so no
/// re-escaping of the NAL unit is needed.
fn patch_sps_level(sps: &mut [u8], width: usize, height: usize, fps: u32) -> anyhow::Result<()> {
    // (level_idc, MaxFS in macroblocks, MaxMBPS, MaxBR in 1000 bit/s)
    const LEVELS: [(u8, u64, u64, u64); 15] = [
        (10, 99, 1_485, 64),
        (11, 396, 3_000, 192),
        (12, 396, 6_000, 384),
        (13, 396, 11_880, 768),
        (20, 396, 11_880, 2_000),
        (21, 792, 19_800, 4_000),
        (22, 1_620, 20_250, 4_000),
        (30, 1_620, 40_500, 10_000),
        (31, 3_600, 108_000, 14_000),
        (32, 5_120, 216_000, 20_000),
        (40, 8_192, 245_760, 20_000),
        (41, 8_192, 245_760, 50_000),
        (42, 8_704, 522_240, 50_000),
        (50, 22_080, 589_824, 135_000),
        (51, 36_864, 983_040, 240_000),
    ];
    ensure!(
        sps.len() > 4 && sps[0] & 0x1f == 7 && sps[1] == 66,
        "less-avc produced an unexpected SPS (want a Baseline profile SPS NAL unit)"
    );
    let (mbs_w, mbs_h) = ((width / 16) as u64, (height / 16) as u64);
    let frame_mbs = mbs_w * mbs_h;
    let mbps = frame_mbs * u64::from(fps);
    // An I_PCM macroblock is 384 bytes of samples (4:2:0, 8 bit) plus a few header bits.
    let kbits_per_s = (mbps * 384 * 8).div_ceil(1000);
    let level = LEVELS
        .iter()
        .find(|&&(_, max_fs, max_mbps, max_br)| {
            // Each side is also limited to sqrt(8 * MaxFS) macroblocks.
            frame_mbs <= max_fs
                && mbs_w * mbs_w <= 8 * max_fs
                && mbs_h * mbs_h <= 8 * max_fs
                && mbps <= max_mbps
                && kbits_per_s <= max_br
        })
        .map_or(52, |&(idc, ..)| idc);
    sps[3] = level;
    Ok(())
}

/// Rearrange `ftyp, mdat, moov` into `ftyp, moov, mdat`, shifting the chunk offsets by the
/// size of `moov` and fixing the `tkhd`/`mvhd` fields that `Mp4Writer` leaves at odd defaults.
fn fast_start(file: &[u8]) -> anyhow::Result<Vec<u8>> {
    let boxes = top_level_boxes(file)?;
    let find = |kind: &[u8; 4]| boxes.iter().position(|(k, _)| k == kind);
    let (Some(ftyp), Some(moov)) = (find(b"ftyp"), find(b"moov")) else {
        bail!("mp4 writer output lacks ftyp or moov");
    };
    ensure!(
        ftyp == 0 && moov == boxes.len() - 1,
        "mp4 writer output is not laid out as ftyp ... moov"
    );

    let reader = Mp4Reader::read_header(Cursor::new(file), file.len() as u64)
        .context("re-reading the written MP4")?;
    let mut moov_box = reader.moov;
    let track_count = moov_box.traks.len();
    moov_box.mvhd.next_track_id = u32::try_from(track_count)? + 1;
    // Moving moov in front of everything between ftyp and moov shifts that data by moov's size,
    // which does not depend on the offset values (stco/co64 entries have a fixed width).
    let shift = {
        let mut probe = Vec::new();
        moov_box.write_box(&mut probe)?;
        probe.len() as u64
    };
    for trak in &mut moov_box.traks {
        trak.tkhd.flags = 0x3; // track enabled + track in movie
        trak.tkhd.volume = mp4::FixedPointU8::new(0);
        let stbl = &mut trak.mdia.minf.stbl;
        if let Some(co64) = stbl.co64.as_mut() {
            for offset in &mut co64.entries {
                *offset += shift;
            }
        }
        if let Some(stco) = stbl.stco.as_mut() {
            for offset in &mut stco.entries {
                *offset = u32::try_from(u64::from(*offset) + shift)
                    .context("chunk offset overflows stco")?;
            }
        }
    }
    let mut out = Vec::with_capacity(file.len());
    out.extend_from_slice(&file[boxes[ftyp].1.clone()]);
    moov_box.write_box(&mut out)?;
    ensure!(
        out.len() as u64 == boxes[ftyp].1.len() as u64 + shift,
        "moov changed size while being rewritten"
    );
    for (_, range) in &boxes[1..moov] {
        out.extend_from_slice(&file[range.clone()]);
    }
    Ok(out)
}

/// Byte ranges of the top-level boxes (ISO/IEC 14496-12 box headers: 32-bit size + type, with
/// size 1 meaning a 64-bit size follows and size 0 meaning "to the end of the file").
fn top_level_boxes(file: &[u8]) -> anyhow::Result<Vec<([u8; 4], std::ops::Range<usize>)>> {
    let be_u32 = |at: usize| -> anyhow::Result<u32> {
        let bytes = file.get(at..at + 4).context("truncated box header")?;
        Ok(u32::from_be_bytes(bytes.try_into()?))
    };
    let mut boxes = Vec::new();
    let mut pos = 0usize;
    while pos < file.len() {
        let size32 = be_u32(pos)?;
        let kind: [u8; 4] = file
            .get(pos + 4..pos + 8)
            .context("truncated box header")?
            .try_into()?;
        let size = match size32 {
            0 => file.len() - pos,
            1 => {
                let hi = u64::from(be_u32(pos + 8)?);
                let lo = u64::from(be_u32(pos + 12)?);
                usize::try_from((hi << 32) | lo)?
            }
            n => n as usize,
        };
        ensure!(
            size >= 8 && pos + size <= file.len(),
            "bad size for top-level box at offset {pos}"
        );
        boxes.push((kind, pos..pos + size));
        pos += size;
    }
    Ok(boxes)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn default_clip(seed: u64) -> Vec<u8> {
        demo_mp4(
            seed,
            DEFAULT_WIDTH,
            DEFAULT_HEIGHT,
            DEFAULT_FRAMES,
            DEFAULT_FPS,
        )
        .unwrap()
    }

    #[test]
    fn layout_is_ftyp_moov_mdat() {
        let file = default_clip(7);
        assert_eq!(&file[4..8], b"ftyp");
        let kinds: Vec<[u8; 4]> = top_level_boxes(&file)
            .unwrap()
            .into_iter()
            .map(|(k, _)| k)
            .collect();
        assert_eq!(kinds, vec![*b"ftyp", *b"moov", *b"mdat"]);
    }

    #[test]
    fn deterministic_per_seed() {
        assert_eq!(default_clip(42), default_clip(42));
        assert_ne!(default_clip(42), default_clip(43));
    }

    #[test]
    fn round_trips_through_mp4_reader() {
        let file = default_clip(1);
        let mut reader = Mp4Reader::read_header(Cursor::new(&file), file.len() as u64).unwrap();
        let track = reader.tracks().get(&1).unwrap();
        assert_eq!(track.media_type().unwrap(), mp4::MediaType::H264);
        assert_eq!(track.width(), DEFAULT_WIDTH);
        assert_eq!(track.height(), DEFAULT_HEIGHT);
        assert_eq!(track.sample_count(), DEFAULT_FRAMES);
        assert!((track.frame_rate() - f64::from(DEFAULT_FPS)).abs() < 1e-9);
        assert_eq!(track.trak.tkhd.flags, 3);
        assert_eq!(reader.moov.mvhd.next_track_id, 2);
        let sps = track.sequence_parameter_set().unwrap().to_vec();
        // 64x112 = 28 MBs at 10 fps -> ~860 kbit/s of I_PCM -> level 2.0
        assert_eq!(sps[3], 20);
        for id in 1..=DEFAULT_FRAMES {
            let sample = reader.read_sample(1, id).unwrap().unwrap();
            assert!(sample.is_sync);
            assert_eq!(sample.duration, TICKS_PER_FRAME);
            // one AVCC-framed IDR slice NAL unit per sample
            let len = u32::from_be_bytes(sample.bytes[..4].try_into().unwrap()) as usize;
            assert_eq!(len + 4, sample.bytes.len());
            assert_eq!(sample.bytes[4] & 0x1f, 5);
        }
        assert_eq!(
            reader.duration().as_millis(),
            u128::from(DEFAULT_FRAMES) * 1000 / u128::from(DEFAULT_FPS)
        );
    }

    #[test]
    fn rejects_bad_arguments() {
        assert!(demo_mp4(0, 60, 112, 10, 10).is_err());
        assert!(demo_mp4(0, 64, 0, 10, 10).is_err());
        assert!(demo_mp4(0, 64, 112, 0, 10).is_err());
        assert!(demo_mp4(0, 64, 112, 10, 0).is_err());
    }

    #[test]
    fn other_sizes_work() {
        for (w, h, frames, fps) in [(16, 16, 1, 1), (96, 160, 20, 10), (320, 576, 3, 30)] {
            let file = demo_mp4(9, w, h, frames, fps).unwrap();
            assert_eq!(&file[4..8], b"ftyp");
        }
    }
}
