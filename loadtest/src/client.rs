//! A websocket client that talks to the server exactly as the browser does:
//! bearer token, `hello`, a first `resume`, then sends and receives, with
//! every frame typed by `wire::protocol`.
//!
//! Sockets are spread over the source addresses 127.0.0.2… (bound before
//! connecting), since one address pair has only ~28,000 ephemeral ports.

use std::{
    collections::{HashMap, HashSet},
    net::{IpAddr, Ipv4Addr, SocketAddr},
    sync::{
        atomic::{AtomicUsize, Ordering},
        Arc, Mutex,
    },
    time::Duration,
};

use futures_util::{stream::SplitStream, SinkExt, StreamExt};
use tokio::{
    net::{TcpSocket, TcpStream},
    sync::mpsc,
};
use tokio_tungstenite::{
    tungstenite::{client::IntoClientRequest, protocol::WebSocketConfig, Message as WsMessage},
    WebSocketStream,
};
use wire::{
    model::{ConversationId, MessageKind},
    protocol::{ClientFrame, ServerFrame, WS_PATH},
};

use crate::ledger::{self, Delivered, Ledger, Window};

pub type Socket = WebSocketStream<TcpStream>;

/// How many source addresses client sockets are spread over.
const SOURCE_ADDRESSES: usize = 100;
static NEXT_SOURCE: AtomicUsize = AtomicUsize::new(0);

/// The next source address, round robin over 127.0.0.2 ….
pub fn next_source() -> IpAddr {
    let n = NEXT_SOURCE.fetch_add(1, Ordering::Relaxed) % SOURCE_ADDRESSES;
    IpAddr::V4(Ipv4Addr::new(127, 0, 0, 2 + n as u8))
}

/// Small buffers, as an idle browser tab would need: the defaults (128 KiB
/// each way) would make 50,000 clients weigh gigabytes on this side.
fn small_buffers() -> WebSocketConfig {
    WebSocketConfig::default().read_buffer_size(4096).write_buffer_size(0)
}

/// Opens `/ws` with the token and reads the `hello`. `query` lets the
/// baseline server know the client's conversation; Natter ignores it.
pub async fn open(addr: SocketAddr, token: Option<&str>, query: &str) -> Result<Socket, String> {
    let socket = TcpSocket::new_v4().map_err(|e| format!("socket: {e}"))?;
    socket.bind(SocketAddr::new(next_source(), 0)).map_err(|e| format!("bind: {e}"))?;
    let stream = socket.connect(addr).await.map_err(|e| format!("connect: {e}"))?;
    stream.set_nodelay(true).map_err(|e| format!("nodelay: {e}"))?;
    let mut request = format!("ws://{addr}{WS_PATH}{query}").into_client_request().map_err(|e| e.to_string())?;
    if let Some(token) = token {
        request.headers_mut().insert("authorization", format!("Bearer {token}").parse().expect("header value"));
    }
    let (mut ws, _) = tokio_tungstenite::client_async_with_config(request, stream, Some(small_buffers()))
        .await
        .map_err(|e| format!("upgrade: {e}"))?;
    match next_frame(&mut ws).await {
        Some(ServerFrame::Hello { .. }) => {}
        other => return Err(format!("expected hello, got {other:?}")),
    }
    ws.send(text(&ClientFrame::Resume { positions: vec![] })).await.map_err(|e| format!("resume: {e}"))?;
    Ok(ws)
}

fn text(frame: &ClientFrame) -> WsMessage {
    WsMessage::Text(serde_json::to_string(frame).expect("frames serialize").into())
}

async fn next_frame<S: StreamExt<Item = Result<WsMessage, tokio_tungstenite::tungstenite::Error>> + Unpin>(
    ws: &mut S,
) -> Option<ServerFrame> {
    loop {
        match ws.next().await? {
            Ok(WsMessage::Text(t)) => return serde_json::from_str(t.as_str()).ok(),
            Ok(WsMessage::Close(_)) | Err(_) => return None,
            Ok(_) => continue,
        }
    }
}

/// A send refused with a time to wait is sent again after it, at most this
/// many times, as the browser does.
const RESENDS: u8 = 5;

/// Sends not yet acked, by client id: the frame and how often it was sent again.
type Unacked = Arc<Mutex<HashMap<String, (WsMessage, u8)>>>;

/// A connected client whose frames are read and accounted by a task of its own.
pub struct Client {
    pub ledger: Arc<Mutex<Ledger>>,
    outgoing: mpsc::UnboundedSender<WsMessage>,
    unacked: Unacked,
    /// This client's number, part of the client ids it sends.
    pub index: usize,
    /// The messages this client has reacted to (and not taken it back), so
    /// that every reaction it sends changes something.
    reacted: Mutex<HashSet<u64>>,
}

impl Client {
    /// Starts reading and writing; what it measures goes into `window`.
    pub fn start(ws: Socket, index: usize, window: Window) -> Client {
        let (mut sink, stream) = ws.split();
        let ledger = Arc::new(Mutex::new(Ledger::new(window)));
        let (outgoing, mut queue) = mpsc::unbounded_channel::<WsMessage>();
        tokio::spawn(async move {
            while let Some(frame) = queue.recv().await {
                if sink.send(frame).await.is_err() {
                    break;
                }
            }
            let _ = sink.close().await;
        });
        let unacked = Unacked::default();
        tokio::spawn(read(stream, ledger.clone(), Resender { outgoing: outgoing.clone(), unacked: unacked.clone() }));
        Client { ledger, outgoing, unacked, index, reacted: Mutex::default() }
    }

    /// Queues a send, kept until acked in case it must go again.
    fn queue_send(&self, frame: &ClientFrame) {
        let ClientFrame::Send { client_id, .. } = frame else { unreachable!("only sends are queued here") };
        let message = text(frame);
        self.unacked.lock().unwrap().insert(client_id.clone(), (message.clone(), 0));
        if self.outgoing.send(message).is_ok() {
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
    outgoing: mpsc::UnboundedSender<WsMessage>,
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
        let (frame, outgoing) = (frame.clone(), self.outgoing.clone());
        tokio::spawn(async move {
            tokio::time::sleep(Duration::from_millis(after)).await;
            let _ = outgoing.send(frame);
        });
        true
    }
}

async fn read(mut stream: SplitStream<Socket>, ledger: Arc<Mutex<Ledger>>, resender: Resender) {
    let closed = loop {
        let frame = match stream.next().await {
            Some(Ok(WsMessage::Text(t))) => t,
            Some(Ok(WsMessage::Close(frame))) => break frame.map(|f| u16::from(f.code)).unwrap_or(1005),
            Some(Ok(_)) => continue,
            Some(Err(_)) | None => break 0,
        };
        let mut ledger = ledger.lock().unwrap();
        // A message frame the quick read cannot take is read whole below.
        if let Some(Ok(message)) = Delivered::from_frame(frame.as_str()) {
            ledger.on_message(&message);
            continue;
        }
        match serde_json::from_str::<ServerFrame>(frame.as_str()) {
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
