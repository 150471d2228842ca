//! The reference the fan-out figures are compared with: a bare tokio
//! websocket broadcast server with no auth and no storage. It speaks the same
//! frames (so the same clients measure it): a `send` is numbered in memory,
//! acked, and its `message` frame, serialized once, goes to every client of
//! the conversation named in the URL's `?c=` query. Its buffers and writes
//! are Natter's: a 4 KiB read buffer, queued frames written together.

use std::{
    collections::HashMap,
    net::SocketAddr,
    sync::{Arc, Mutex},
};

use futures_util::{SinkExt, StreamExt};
use tokio::{net::TcpListener, sync::mpsc};
use tokio_tungstenite::tungstenite::{
    handshake::server::{Request, Response},
    protocol::WebSocketConfig,
    Message as WsMessage, Utf8Bytes,
};
use wire::{
    model::{ConversationId, Message, MessageId, UserId},
    protocol::{ClientFrame, ServerFrame, PROTOCOL_VERSION},
};

type Mailbox = mpsc::UnboundedSender<Utf8Bytes>;

#[derive(Default)]
struct Conversation {
    seq: u64,
    members: HashMap<u64, Mailbox>,
}

#[derive(Default)]
struct Rooms {
    next_id: u64,
    conversations: HashMap<String, Conversation>,
}

pub async fn serve(listen: SocketAddr) -> Result<(), String> {
    let listener = TcpListener::bind(listen).await.map_err(|e| format!("cannot listen on {listen}: {e}"))?;
    let rooms = Arc::new(Mutex::new(Rooms::default()));
    loop {
        let (stream, _) = listener.accept().await.map_err(|e| e.to_string())?;
        let _ = stream.set_nodelay(true);
        tokio::spawn(connection(stream, rooms.clone()));
    }
}

fn encode(frame: &ServerFrame) -> Utf8Bytes {
    serde_json::to_string(frame).expect("frames serialize").into()
}

async fn connection(stream: tokio::net::TcpStream, rooms: Arc<Mutex<Rooms>>) {
    let mut conversation = String::new();
    // The error type is tungstenite's, fixed by its `Callback` trait.
    #[allow(clippy::result_large_err)]
    let callback = |request: &Request, response: Response| {
        let query = request.uri().query().unwrap_or_default();
        conversation = query.split('&').find_map(|kv| kv.strip_prefix("c=")).unwrap_or_default().to_owned();
        Ok(response)
    };
    let config = WebSocketConfig::default().read_buffer_size(4096);
    let Ok(ws) = tokio_tungstenite::accept_hdr_async_with_config(stream, callback, Some(config)).await else { return };
    let (mut sink, mut frames) = ws.split();
    let (mailbox, mut queue) = mpsc::unbounded_channel();
    let id = {
        let mut rooms = rooms.lock().unwrap();
        rooms.next_id += 1;
        let id = rooms.next_id;
        rooms.conversations.entry(conversation.clone()).or_default().members.insert(id, mailbox.clone());
        id
    };
    let hello = ServerFrame::Hello {
        protocol_version: PROTOCOL_VERSION,
        user_id: UserId(format!("baseline-{id}")),
        node_id: "baseline".into(),
    };
    let _ = mailbox.send(encode(&hello));
    // Like Natter's connections: queued frames go out in one write.
    let writer = tokio::spawn(async move {
        while let Some(text) = queue.recv().await {
            let mut ok = sink.feed(WsMessage::Text(text)).await.is_ok();
            while let (true, Ok(more)) = (ok, queue.try_recv()) {
                ok = sink.feed(WsMessage::Text(more)).await.is_ok();
            }
            if !ok || sink.flush().await.is_err() {
                break;
            }
        }
    });
    while let Some(Ok(frame)) = frames.next().await {
        let WsMessage::Text(text) = frame else { continue };
        let Ok(ClientFrame::Send { conversation_id, client_id, kind, content, .. }) = serde_json::from_str(text.as_str()) else {
            continue;
        };
        let mut rooms = rooms.lock().unwrap();
        let room = rooms.conversations.entry(conversation_id.0.clone()).or_default();
        room.seq += 1;
        let seq = room.seq;
        let message_id = MessageId(format!("{}-{seq}", conversation_id));
        let ack = ServerFrame::Ack {
            client_id: client_id.clone(),
            conversation_id: conversation_id.clone(),
            seq,
            shown: seq,
            message_id: message_id.clone(),
            duplicate: false,
            content: None,
        };
        let _ = mailbox.send(encode(&ack));
        let message = Message {
            id: message_id,
            conversation_id: ConversationId(conversation_id.0.clone()),
            seq,
            shown: seq,
            sender_id: UserId(format!("baseline-{id}")),
            client_id,
            kind,
            content,
            created_ms: 0,
            ..Default::default()
        };
        let text = encode(&ServerFrame::Message { message });
        for member in room.members.values() {
            let _ = member.send(text.clone());
        }
    }
    if let Some(room) = rooms.lock().unwrap().conversations.get_mut(&conversation) {
        room.members.remove(&id);
    }
    writer.abort();
}
