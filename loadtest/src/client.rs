//! A client of the fan-out: sends as the browser does, every frame it reads
//! accounted in its ledger, refused sends sent again after the time the
//! server asks for.

use std::{
    collections::{HashMap, HashSet},
    sync::{atomic::Ordering, Arc, Mutex},
    time::Duration,
};

use fastwebsockets::Frame;
use tokio::sync::mpsc;
use wire::{
    model::{ConversationId, MessageKind},
    protocol::{ClientFrame, ServerFrame},
};

use crate::{
    ledger::{self, Delivered, Ledger, Window},
    socket::{self, Incoming, Reader, Socket},
};

/// A send refused with a time to wait is sent again after it, at most this
/// many times, as the browser does.
const RESENDS: u8 = 5;

/// Sends not yet acked, by client id: the frame's JSON and how often it was sent again.
type Unacked = Arc<Mutex<HashMap<String, (Vec<u8>, u8)>>>;

/// What a client's writer sends.
type Outgoing = mpsc::UnboundedSender<Frame<'static>>;

/// A connected client whose frames are read and accounted by a task of its own.
pub struct Client {
    pub ledger: Arc<Mutex<Ledger>>,
    outgoing: Outgoing,
    unacked: Unacked,
    /// This client's number, part of the client ids it sends.
    pub index: usize,
    /// The messages this client has reacted to (and not taken it back), so
    /// that every reaction it sends changes something.
    reacted: Mutex<HashSet<u64>>,
}

impl Client {
    /// Starts reading and writing; what it measures goes into `window`.
    pub fn start(socket: Socket, index: usize, window: Window) -> Client {
        let Socket { reader, mut writer } = socket;
        let ledger = Arc::new(Mutex::new(Ledger::new(window)));
        let (outgoing, mut queue) = mpsc::unbounded_channel::<Frame<'static>>();
        tokio::spawn(async move {
            while let Some(frame) = queue.recv().await {
                if writer.write_frame(frame).await.is_err() {
                    return;
                }
            }
            let _ = writer.write_frame(Frame::close(1000, b"")).await;
        });
        let unacked = Unacked::default();
        tokio::spawn(read(reader, ledger.clone(), Resender { outgoing: outgoing.clone(), unacked: unacked.clone() }));
        Client { ledger, outgoing, unacked, index, reacted: Mutex::default() }
    }

    /// Queues a send, kept until acked in case it must go again.
    fn queue_send(&self, frame: &ClientFrame) {
        let ClientFrame::Send { client_id, .. } = frame else { unreachable!("only sends are queued here") };
        let json = serde_json::to_vec(frame).expect("frames serialize");
        self.unacked.lock().unwrap().insert(client_id.clone(), (json.clone(), 0));
        if self.outgoing.send(socket::text_of(json)).is_ok() {
            ledger::SENT.fetch_add(1, Ordering::Relaxed);
        }
    }

    /// Queues a text message; its client id carries the send time.
    pub fn send_text(&self, conversation: &ConversationId, n: u64) {
        let frame = ClientFrame::Send {
            conversation_id: conversation.clone(),
            client_id: ledger::client_id(self.index, n),
            kind: MessageKind::Text,
            content: format!("load message {n} from client {}", self.index),
            attachment: None,
            target: None,
            reply_to: None,
            mentions: Vec::new(),
        };
        self.queue_send(&frame);
    }

    /// Queues a change to this client's newest acked message: an edit when
    /// `n` is even, else a 👍 given or taken back (whichever changes it); a
    /// message instead while none is acked yet. Its client id carries the
    /// send time like a message's.
    pub fn send_change(&self, conversation: &ConversationId, n: u64) {
        let Some(target) = self.ledger.lock().unwrap().own_newest.get(conversation).copied() else {
            return self.send_text(conversation, n);
        };
        let (kind, content) = if n % 2 == 0 {
            (MessageKind::Edit, format!("load message edited ({n}) by client {}", self.index))
        } else {
            let mut reacted = self.reacted.lock().unwrap();
            let kind = if reacted.insert(target) { MessageKind::React } else { MessageKind::Unreact };
            if kind == MessageKind::Unreact {
                reacted.remove(&target);
            }
            (kind, "👍".to_owned())
        };
        let frame = ClientFrame::Send {
            conversation_id: conversation.clone(),
            client_id: ledger::change_id(self.index, n),
            kind,
            content,
            attachment: None,
            target: Some(target),
            reply_to: None,
            mentions: Vec::new(),
        };
        self.queue_send(&frame);
    }

    /// Closes the socket once what is queued has been sent.
    pub fn close(self) {
        drop(self.outgoing);
    }
}

/// What a client's reader needs to send a refused send again.
struct Resender {
    outgoing: Outgoing,
    unacked: Unacked,
}

impl Resender {
    fn acked(&self, client_id: &str) {
        self.unacked.lock().unwrap().remove(client_id);
    }

    /// Sends `client_id` again after `after`, unless it went often enough
    /// already: whether it will.
    fn again(&self, client_id: &str, after: Option<u64>) -> bool {
        let mut unacked = self.unacked.lock().unwrap();
        let (Some(after), Some((frame, tries))) = (after, unacked.get_mut(client_id)) else {
            unacked.remove(client_id);
            return false;
        };
        if *tries >= RESENDS {
            unacked.remove(client_id);
            return false;
        }
        *tries += 1;
        let (json, outgoing) = (frame.clone(), self.outgoing.clone());
        tokio::spawn(async move {
            tokio::time::sleep(Duration::from_millis(after)).await;
            let _ = outgoing.send(socket::text_of(json));
        });
        true
    }
}

async fn read(mut reader: Reader, ledger: Arc<Mutex<Ledger>>, resender: Resender) {
    let closed = loop {
        let payload = match socket::read(&mut reader).await {
            Incoming::Text(payload) => payload,
            Incoming::Ping(payload) => {
                let _ = resender.outgoing.send(socket::pong(payload));
                continue;
            }
            Incoming::Closed(code) => break code,
        };
        let mut ledger = ledger.lock().unwrap();
        // A message frame the quick read cannot take is read whole below.
        if let Some(Ok(message)) = Delivered::from_frame(&payload) {
            ledger.on_message(&message);
            continue;
        }
        match serde_json::from_slice::<ServerFrame>(&payload) {
            Ok(ServerFrame::Message { message }) => ledger.on_message(&(&message).into()),
            Ok(ServerFrame::Ack { client_id, conversation_id, seq, duplicate, .. }) => {
                resender.acked(&client_id);
                ledger.on_ack(&client_id, &conversation_id, seq, duplicate)
            }
            Ok(ServerFrame::Error { code, client_id: Some(client_id), retry_after_ms, .. }) => {
                // Pushed back: answered by the resend's ack (or final error) instead.
                let again = resender.again(&client_id, retry_after_ms);
                ledger.pushed_back += u64::from(again);
                ledger.on_error(code_name(&code), !again);
            }
            Ok(ServerFrame::Error { code, .. }) => ledger.on_error(code_name(&code), false),
            Ok(_) => {}
            Err(_) => ledger.window.lock().unwrap().error("unparsable_frame"),
        }
    };
    ledger.lock().unwrap().closed = Some(closed);
}

/// A wire code's name as the protocol spells it, e.g. `rate_limited`.
pub fn code_name<T: serde::Serialize>(code: &T) -> String {
    serde_json::to_value(code).ok().and_then(|v| v.as_str().map(str::to_owned)).unwrap_or_else(|| "unknown".into())
}
