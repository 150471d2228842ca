//! A minimal WebRTC client on str0m that joins a room the way a browser
//! does: it publishes synthetic media (VP8-sized video frames and Opus-sized
//! audio packets, or the audio alone) and counts what it receives. The integration tests use it
//! as participants and viewers; the load generator as its simulated viewers.
//!
//! Each video frame carries its number and the time it was sent (µs since
//! the Unix epoch), so a receiver in the same machine measures loss and delay.

use std::{
    collections::{HashMap, HashSet},
    net::SocketAddr,
    sync::{
        atomic::{AtomicBool, AtomicU64, Ordering::Relaxed},
        Arc,
    },
    time::{Duration, Instant, SystemTime, UNIX_EPOCH},
};

use str0m::{
    change::{SdpAnswer, SdpOffer, SdpPendingOffer},
    format::Codec,
    media::{Direction, MediaKind, MediaTime, Mid},
    Candidate, Event, Input, Output, Rtc,
};
use tokio::{
    net::UdpSocket,
    sync::{mpsc, oneshot},
};

const FRAMES_PER_SECOND: u64 = 30;
const AUDIO_EVERY: Duration = Duration::from_millis(20);
/// A keyframe every this many frames (2 s), several times a delta frame's size.
const KEYFRAME_EVERY: u64 = 60;
const KEYFRAME_WEIGHT: usize = 4;
const AUDIO_BYTES: usize = 80;
/// The start of a VP8 frame (RFC 6386): a keyframe's tag and start code, and a delta frame's tag.
const VP8_KEY: [u8; 10] = [0x10, 0x02, 0x00, 0x9d, 0x01, 0x2a, 0x40, 0x01, 0xf0, 0x00];
const VP8_DELTA: [u8; 3] = [0x11, 0x02, 0x00];

/// What a probe has seen, read while it runs.
#[derive(Debug, Default)]
pub struct ProbeStats {
    pub connected: AtomicBool,
    pub video_frames: AtomicU64,
    /// How many video streams (from as many senders) delivered frames.
    pub video_streams: AtomicU64,
    pub audio_frames: AtomicU64,
    /// How many audio streams (from as many senders) delivered packets.
    pub audio_streams: AtomicU64,
    pub bytes_received: AtomicU64,
    pub bytes_sent: AtomicU64,
    /// Video frames sent (a publisher) or missing between received ones (a receiver).
    pub frames_sent: AtomicU64,
    pub frames_missing: AtomicU64,
    /// Sum and largest of the received video frames' delays, in µs.
    pub delay_us_total: AtomicU64,
    pub delay_us_max: AtomicU64,
}

enum Ask {
    Answer(String, oneshot::Sender<Result<(), String>>),
    Offer(String, oneshot::Sender<Result<String, String>>),
}

/// What a probe sends of its own.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Publish {
    /// Nothing: it offers a data channel and receives what the server offers later (a viewer).
    Nothing,
    /// Audio alone, as in a voice call.
    Audio,
    /// Video of this many bits per second, and audio.
    Video(u64),
}

/// A running client; dropping its last clone ends its session.
#[derive(Clone)]
pub struct Probe {
    asks: mpsc::Sender<Ask>,
    pub stats: Arc<ProbeStats>,
}

impl Probe {
    /// Starts a client on `ip` publishing `publish`; returns its SDP offer.
    pub async fn start(ip: std::net::IpAddr, publish: Publish) -> std::io::Result<(Probe, String)> {
        let socket = UdpSocket::bind(SocketAddr::new(ip, 0)).await?;
        let now = Instant::now();
        let mut rtc = Rtc::builder().build(now);
        let candidate = Candidate::host(socket.local_addr()?, "udp").map_err(std::io::Error::other)?;
        rtc.add_local_candidate(candidate);
        let mut change = rtc.sdp_api();
        let video_bps = match publish {
            Publish::Nothing | Publish::Audio => None,
            Publish::Video(bps) => Some(bps),
        };
        let video = video_bps.map(|bps| {
            let mid = change.add_media(MediaKind::Video, Direction::SendOnly, Some("probe".into()), None, None);
            (mid, (bps / 8 / FRAMES_PER_SECOND) as usize)
        });
        let media = (publish != Publish::Nothing).then(|| {
            let audio = change.add_media(MediaKind::Audio, Direction::SendOnly, Some("probe".into()), None, None);
            Sending { video, audio, frame: 0, started: now }
        });
        if media.is_none() {
            change.add_channel("natter".into());
        }
        let (offer, pending) = change.apply().expect("a probe always offers something");
        let stats = Arc::new(ProbeStats::default());
        let (asks, queue) = mpsc::channel(8);
        let session = Session {
            rtc,
            socket,
            pending: Some(pending),
            media,
            stats: stats.clone(),
            last_frame: HashMap::new(),
            audio_heard: HashSet::new(),
        };
        tokio::spawn(session.run(queue));
        Ok((Probe { asks, stats }, offer.to_sdp_string()))
    }

    /// Takes the server's answer to the offer.
    pub async fn answer(&self, sdp: String) -> Result<(), String> {
        let (reply, answer) = oneshot::channel();
        self.asks.send(Ask::Answer(sdp, reply)).await.map_err(|_| "the probe stopped")?;
        answer.await.map_err(|_| "the probe stopped")?
    }

    /// Answers a renegotiation offer of the server.
    pub async fn offer(&self, sdp: String) -> Result<String, String> {
        let (reply, answer) = oneshot::channel();
        self.asks.send(Ask::Offer(sdp, reply)).await.map_err(|_| "the probe stopped")?;
        answer.await.map_err(|_| "the probe stopped")?
    }
}

struct Sending {
    /// The video's stream and the size of a delta frame, when it sends video.
    video: Option<(Mid, usize)>,
    audio: Mid,
    frame: u64,
    started: Instant,
}

struct Session {
    rtc: Rtc,
    socket: UdpSocket,
    pending: Option<SdpPendingOffer>,
    media: Option<Sending>,
    stats: Arc<ProbeStats>,
    /// Number of the last video frame received, per stream.
    last_frame: HashMap<Mid, u64>,
    /// The audio streams that delivered packets.
    audio_heard: HashSet<Mid>,
}

impl Session {
    async fn run(mut self, mut asks: mpsc::Receiver<Ask>) {
        let mut buf = vec![0u8; 2000];
        let mut frames = tokio::time::interval(Duration::from_micros(1_000_000 / FRAMES_PER_SECOND));
        let mut audio = tokio::time::interval(AUDIO_EVERY);
        loop {
            let Some(wake) = self.drain() else { return };
            let sending = self.media.is_some() && self.stats.connected.load(Relaxed);
            tokio::select! {
                ask = asks.recv() => match ask {
                    Some(ask) => self.ask(ask),
                    None => return,
                },
                received = self.socket.recv_from(&mut buf) => {
                    let Ok((n, source)) = received else { return };
                    let Ok(local) = self.socket.local_addr() else { return };
                    if let Some(input) = super::peer::datagram(local, source, &buf[..n], Instant::now()) {
                        if self.rtc.handle_input(input).is_err() {
                            return;
                        }
                    }
                }
                _ = tokio::time::sleep_until(wake.into()) => {
                    if self.rtc.handle_input(Input::Timeout(Instant::now())).is_err() {
                        return;
                    }
                }
                _ = frames.tick(), if sending => self.send_video(),
                _ = audio.tick(), if sending => self.send_audio(),
            }
        }
    }

    fn ask(&mut self, ask: Ask) {
        match ask {
            Ask::Answer(sdp, reply) => {
                let result = match (SdpAnswer::from_sdp_string(&sdp), self.pending.take()) {
                    (Ok(answer), Some(pending)) => self.rtc.sdp_api().accept_answer(pending, answer).map_err(|e| e.to_string()),
                    (Err(e), _) => Err(e.to_string()),
                    (_, None) => Err("no offer is waiting".into()),
                };
                let _ = reply.send(result);
            }
            Ask::Offer(sdp, reply) => {
                let result = SdpOffer::from_sdp_string(&sdp)
                    .map_err(|e| e.to_string())
                    .and_then(|offer| self.rtc.sdp_api().accept_offer(offer).map_err(|e| e.to_string()))
                    .map(|answer| answer.to_sdp_string());
                let _ = reply.send(result);
            }
        }
    }

    /// Sends what is due and takes in events; the time to wake, or `None`
    /// once the session is over.
    fn drain(&mut self) -> Option<Instant> {
        loop {
            match self.rtc.poll_output().ok()? {
                Output::Timeout(at) => return self.rtc.is_alive().then_some(at),
                Output::Transmit(t) => {
                    self.stats.bytes_sent.fetch_add(t.contents.len() as u64, Relaxed);
                    let _ = self.socket.try_send_to(&t.contents, t.destination);
                }
                Output::Event(Event::Connected) => self.stats.connected.store(true, Relaxed),
                Output::Event(Event::MediaData(data)) => self.received(data.mid, data.params.spec().codec, &data.data),
                Output::Event(_) => {}
            }
        }
    }

    fn received(&mut self, mid: Mid, codec: Codec, data: &[u8]) {
        self.stats.bytes_received.fetch_add(data.len() as u64, Relaxed);
        if codec.is_audio() {
            self.stats.audio_frames.fetch_add(1, Relaxed);
            if self.audio_heard.insert(mid) {
                self.stats.audio_streams.fetch_add(1, Relaxed);
            }
            return;
        }
        self.stats.video_frames.fetch_add(1, Relaxed);
        let header = if data.first().is_some_and(|b| b & 1 == 0) { VP8_KEY.len() } else { VP8_DELTA.len() };
        let Some(stamp) = data.get(header..header + 16) else { return };
        let number = u64::from_be_bytes(stamp[..8].try_into().expect("8 bytes"));
        let sent_us = u64::from_be_bytes(stamp[8..].try_into().expect("8 bytes"));
        let delay = epoch_micros().saturating_sub(sent_us);
        self.stats.delay_us_total.fetch_add(delay, Relaxed);
        self.stats.delay_us_max.fetch_max(delay, Relaxed);
        match self.last_frame.get_mut(&mid) {
            Some(last) => {
                self.stats.frames_missing.fetch_add(number.saturating_sub(*last + 1), Relaxed);
                *last = number.max(*last);
            }
            None => {
                self.last_frame.insert(mid, number);
                self.stats.video_streams.fetch_add(1, Relaxed);
            }
        }
    }

    fn send_video(&mut self) {
        let Some(media) = &mut self.media else { return };
        let Some((mid, frame_bytes)) = media.video else { return };
        let key = media.frame % KEYFRAME_EVERY == 0;
        let mut frame = Vec::with_capacity(frame_bytes * KEYFRAME_WEIGHT);
        frame.extend_from_slice(if key { &VP8_KEY[..] } else { &VP8_DELTA[..] });
        frame.extend_from_slice(&media.frame.to_be_bytes());
        frame.extend_from_slice(&epoch_micros().to_be_bytes());
        let size = if key { frame_bytes * KEYFRAME_WEIGHT } else { frame_bytes };
        frame.resize(size.max(frame.len()), 0x5a);
        let time = MediaTime::from_90khz(media.started.elapsed().as_micros() as u64 * 9 / 100);
        media.frame += 1;
        if write(&mut self.rtc, mid, Codec::Vp8, time, frame, None) {
            self.stats.frames_sent.fetch_add(1, Relaxed);
        }
    }

    fn send_audio(&mut self) {
        let Some(media) = &self.media else { return };
        let time = MediaTime::new(media.started.elapsed().as_micros() as u64 * 48 / 1000, str0m::media::Frequency::FORTY_EIGHT_KHZ);
        let mid = media.audio;
        write(&mut self.rtc, mid, Codec::Opus, time, vec![0x78; AUDIO_BYTES], Some(-30));
    }
}

/// Writes a frame of `codec` on `mid`; false when it cannot (not negotiated yet).
fn write(rtc: &mut Rtc, mid: Mid, codec: Codec, time: MediaTime, data: Vec<u8>, level: Option<i8>) -> bool {
    let Some(writer) = rtc.writer(mid) else { return false };
    let Some(pt) = writer.payload_params().find(|p| p.spec().codec == codec).map(|p| p.pt()) else { return false };
    let writer = match level {
        Some(level) => writer.audio_level(level, true),
        None => writer,
    };
    writer.write(pt, Instant::now(), time, data).is_ok()
}

fn epoch_micros() -> u64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_micros() as u64)
}
