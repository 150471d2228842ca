//! A chat user and a websocket client for integration tests, speaking the
//! protocol types from `wire`.

use std::time::Duration;

use futures_util::{SinkExt, StreamExt};
use reqwest::Method;
use serde_json::{json, Value};
use tokio::net::TcpStream;
use tokio_tungstenite::{tungstenite::{client::IntoClientRequest, Message as WsMessage}, MaybeTlsStream, WebSocketStream};
use wire::{
    api::{AuthResponse, ConversationSummary},
    endpoint,
    model::{ConversationId, FileId, Message, MessageKind, Presence, UserId},
    protocol::{AttachmentRef, ClientFrame, Position, ServerFrame, WsErrorCode, WS_PATH},
};

use super::TestServer;

/// A signed-in user of the test.
pub struct User<'a> {
    pub server: &'a TestServer,
    pub id: String,
    pub token: String,
}

/// Asks to sign `name` up (`<name>@example.org`), with an invitation token
/// if given: the answer's status and body.
pub async fn sign_up(server: &TestServer, name: &str, invite: Option<&str>) -> (u16, Value) {
    let email = format!("{name}@example.org");
    let mut body = json!({ "email": email, "nickname": name, "password": "correct horse", "device_id": "d1" });
    if let Some(invite) = invite {
        body["invite"] = json!(invite);
    }
    let resp = server.client.post(server.url(endpoint::AUTH_REGISTER)).json(&body).send().await.unwrap();
    (resp.status().as_u16(), resp.json().await.unwrap_or(Value::Null))
}

impl<'a> User<'a> {
    pub async fn register(server: &'a TestServer, name: &str) -> User<'a> {
        User::invited(server, name, None).await
    }

    /// Signs `name` up with an invitation token.
    pub async fn invited(server: &'a TestServer, name: &str, invite: Option<&str>) -> User<'a> {
        let (status, body) = sign_up(server, name, invite).await;
        assert_eq!(status, 201, "{body}");
        let auth: AuthResponse = serde_json::from_value(body).unwrap();
        User { server, id: auth.user.id.0, token: auth.token }
    }

    /// The same account signed in on another device.
    pub async fn on_device(&self, device: &str) -> User<'a> {
        let name = self.server.client.get(self.server.url(endpoint::ME)).bearer_auth(&self.token).send().await.unwrap();
        let me: Value = name.json().await.unwrap();
        let body = json!({ "email": me["email"], "password": "correct horse", "device_id": device });
        let resp = self.server.client.post(self.server.url(endpoint::AUTH_LOGIN)).json(&body).send().await.unwrap();
        assert_eq!(resp.status(), 200);
        let auth: AuthResponse = resp.json().await.unwrap();
        User { server: self.server, id: auth.user.id.0, token: auth.token }
    }

    pub async fn call(&self, method: Method, path: &str, body: Option<Value>) -> (u16, Value) {
        let mut req = self.server.client.request(method, self.server.url(path)).bearer_auth(&self.token);
        if let Some(body) = body {
            req = req.json(&body);
        }
        let resp = req.send().await.unwrap();
        let status = resp.status().as_u16();
        (status, resp.json().await.unwrap_or(Value::Null))
    }

    /// A group of this user's with `members` in it: each accepts the
    /// invitation strangers get (friends are in already; joining again is no change).
    pub async fn group(&self, name: &str, members: &[&User<'_>], extra: Value) -> ConversationId {
        let mut body = json!({ "name": name, "members": members.iter().map(|u| u.id.clone()).collect::<Vec<_>>() });
        if let (Some(body), Some(extra)) = (body.as_object_mut(), extra.as_object()) {
            body.extend(extra.clone());
        }
        let (status, created) = self.call(Method::POST, endpoint::CONVERSATIONS, Some(body)).await;
        assert_eq!(status, 201, "{created}");
        let id = ConversationId(created["conversation"]["id"].as_str().unwrap().to_owned());
        for member in members {
            let (status, body) = member.call(Method::POST, &endpoint::conversation_join(&id), None).await;
            assert_eq!(status, 200, "{body}");
        }
        id
    }

    /// The private chat of this user with `other`, who accepts it.
    pub async fn private_chat(&self, other: &User<'_>) -> ConversationId {
        let (status, body) = self.call(Method::POST, endpoint::PRIVATE_CONVERSATIONS, Some(json!({ "user_id": other.id }))).await;
        assert!(status == 201 || status == 200, "{body}");
        let id = ConversationId(body["conversation"]["id"].as_str().unwrap().to_owned());
        let (status, body) = other.call(Method::POST, &endpoint::conversation_join(&id), None).await;
        assert_eq!(status, 200, "{body}");
        id
    }

    /// Posts `file` in a new group of this user's with `member`, who may then read it.
    pub async fn share_file(&self, member: &User<'_>, file: &FileId) -> ConversationId {
        let room = self.group("shared", &[member], json!({})).await;
        let mut ws = self.connect().await;
        ws.send(&file_send(&room, "shared", MessageKind::File, file, None, "")).await;
        assert!(matches!(ws.answer("shared").await, ServerFrame::Ack { .. }));
        room
    }

    /// A connection on the live stream (its first frame is an empty resume).
    pub async fn connect(&self) -> Client {
        self.connect_via(self.server, vec![]).await
    }

    /// A connection whose first frame resumes from `positions`.
    pub async fn connect_resuming(&self, positions: Vec<Position>) -> Client {
        self.connect_via(self.server, positions).await
    }

    /// A connection to `node` (any node of the cluster) that first resumes from `positions`.
    pub async fn connect_via(&self, node: &TestServer, positions: Vec<Position>) -> Client {
        self.connect_to(node.addr, positions).await
    }

    /// A connection to the server at `addr` that first resumes from `positions`.
    pub async fn connect_to(&self, addr: std::net::SocketAddr, positions: Vec<Position>) -> Client {
        let mut client = self.open(addr).await.unwrap_or_else(|code| panic!("websocket closed with {code}"));
        client.send(&ClientFrame::Resume { positions }).await;
        client
    }

    /// A connection on the live stream whose socket takes only about
    /// `bytes` before the client reads: one that stops reading holds up
    /// its session after a few frames.
    pub async fn connect_small(&self, bytes: u32) -> Client {
        let socket = tokio::net::TcpSocket::new_v4().unwrap();
        socket.set_recv_buffer_size(bytes).unwrap();
        let tcp = socket.connect(self.server.addr).await.unwrap();
        let (stream, _) = tokio_tungstenite::client_async(self.ws_request(self.server.addr), MaybeTlsStream::Plain(tcp))
            .await
            .unwrap();
        let mut client = Client::greeted(stream).await.unwrap_or_else(|code| panic!("websocket closed with {code}"));
        client.send(&ClientFrame::Resume { positions: vec![] }).await;
        client
    }

    fn ws_request(&self, addr: std::net::SocketAddr) -> tokio_tungstenite::tungstenite::handshake::client::Request {
        let mut req = format!("ws://{addr}{WS_PATH}").into_client_request().unwrap();
        req.headers_mut().insert("authorization", format!("Bearer {}", self.token).parse().unwrap());
        req
    }

    /// A websocket to the server at `addr` once it said hello, or the code
    /// it was closed with instead.
    pub async fn open(&self, addr: std::net::SocketAddr) -> Result<Client, u16> {
        let (stream, _) = tokio_tungstenite::connect_async(self.ws_request(addr)).await.unwrap();
        Client::greeted(stream).await
    }

    pub async fn summaries(&self) -> Vec<ConversationSummary> {
        let (status, body) = self.call(Method::GET, endpoint::CONVERSATIONS, None).await;
        assert_eq!(status, 200, "{body}");
        serde_json::from_value(body).unwrap()
    }

    /// The summary of `conversation` once its unread count is `unread`, or
    /// after 5 s whatever it is: the newest message and the sender's read
    /// position are recorded just after the sender's ack.
    pub async fn summary_once_unread(&self, conversation: &ConversationId, unread: u64) -> ConversationSummary {
        let find = |list: Vec<ConversationSummary>| list.into_iter().find(|s| &s.conversation.id == conversation).unwrap();
        let mut summary = find(self.summaries().await);
        for _ in 0..50 {
            if summary.unread == unread {
                break;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
            summary = find(self.summaries().await);
        }
        summary
    }
}

pub struct Client {
    pub stream: WebSocketStream<MaybeTlsStream<TcpStream>>,
}

/// A send of the uploaded `file` as a `kind` message (a voice note or video
/// `duration_ms` long) with `caption`.
pub fn file_send(
    conversation: &ConversationId,
    client_id: &str,
    kind: MessageKind,
    file: &FileId,
    duration_ms: Option<u64>,
    caption: &str,
) -> ClientFrame {
    ClientFrame::Send {
        conversation_id: conversation.clone(),
        client_id: client_id.into(),
        kind,
        content: caption.into(),
        attachment: Some(AttachmentRef { file_id: file.clone(), duration_ms }),
        target: None,
        reply_to: None,
        mentions: Vec::new(),
    }
}

/// A change (`kind`: edit, delete, react, …) to the message at `target`, with `content`.
pub fn change_send(conversation: &ConversationId, client_id: &str, kind: MessageKind, target: u64, content: &str) -> ClientFrame {
    ClientFrame::Send {
        conversation_id: conversation.clone(),
        client_id: client_id.into(),
        kind,
        content: content.into(),
        attachment: None,
        target: Some(target),
        reply_to: None,
        mentions: Vec::new(),
    }
}

impl Client {
    /// The client once the server said hello, or the code it closed with instead.
    async fn greeted(stream: WebSocketStream<MaybeTlsStream<TcpStream>>) -> Result<Client, u16> {
        let mut client = Client { stream };
        match tokio::time::timeout(Duration::from_secs(10), client.stream.next()).await.expect("an answer within 10 s") {
            Some(Ok(WsMessage::Text(text))) => {
                assert!(matches!(serde_json::from_str(text.as_str()).unwrap(), ServerFrame::Hello { .. }));
                Ok(client)
            }
            Some(Ok(WsMessage::Close(Some(frame)))) => Err(frame.code.into()),
            other => panic!("expected a hello or a close, got {other:?}"),
        }
    }

    /// Sends a change to the message at `target`; the ack or error answering it.
    pub async fn change(
        &mut self,
        conversation: &ConversationId,
        client_id: &str,
        kind: MessageKind,
        target: u64,
        content: &str,
    ) -> ServerFrame {
        self.send(&change_send(conversation, client_id, kind, target, content)).await;
        self.answer(client_id).await
    }

    pub async fn send(&mut self, frame: &ClientFrame) {
        self.stream.send(WsMessage::Text(serde_json::to_string(frame).unwrap().into())).await.unwrap();
    }

    pub async fn send_text(&mut self, conversation: &ConversationId, client_id: &str, text: &str) {
        self.send_mentioning(conversation, client_id, text, Vec::new()).await;
    }

    /// Sends a text message that mentions `mentions`.
    pub async fn send_mentioning(&mut self, conversation: &ConversationId, client_id: &str, text: &str, mentions: Vec<UserId>) {
        let frame = ClientFrame::Send {
            conversation_id: conversation.clone(),
            client_id: client_id.into(),
            kind: MessageKind::Text,
            content: text.into(),
            attachment: None,
            target: None,
            reply_to: None,
            mentions,
        };
        self.send(&frame).await;
    }

    /// The next frame, or `None` if none comes within `wait`.
    pub async fn next_within(&mut self, wait: Duration) -> Option<ServerFrame> {
        loop {
            let msg = tokio::time::timeout(wait, self.stream.next()).await.ok()??.unwrap();
            match msg {
                WsMessage::Text(text) => return Some(serde_json::from_str(text.as_str()).unwrap()),
                WsMessage::Ping(_) | WsMessage::Pong(_) => continue,
                other => panic!("unexpected websocket message {other:?}"),
            }
        }
    }

    pub async fn next(&mut self) -> ServerFrame {
        self.next_within(Duration::from_secs(10)).await.expect("a frame within 10 s")
    }

    /// Reads until a message of `conversation` arrives.
    pub async fn message(&mut self) -> Message {
        loop {
            if let ServerFrame::Message { message } = self.next().await {
                return message;
            }
        }
    }

    /// Reads until the ack or error answering `client_id`.
    pub async fn answer(&mut self, client_id: &str) -> ServerFrame {
        loop {
            match self.next().await {
                f @ ServerFrame::Ack { .. } if matches!(&f, ServerFrame::Ack { client_id: c, .. } if c == client_id) => return f,
                f @ ServerFrame::Error { .. } => return f,
                _ => {}
            }
        }
    }

    /// Reads until a presence frame about `user` in `conversation`; what it says.
    pub async fn presence_of(&mut self, conversation: &ConversationId, user: &str) -> Presence {
        loop {
            if let ServerFrame::Presence { conversation_id, user_id, presence } = self.next().await {
                if &conversation_id == conversation && user_id.0 == user {
                    return presence;
                }
            }
        }
    }

    pub async fn error(&mut self) -> (WsErrorCode, Option<String>) {
        loop {
            if let ServerFrame::Error { code, client_id, .. } = self.next().await {
                return (code, client_id);
            }
        }
    }

    /// Reads until the server closes the connection; its close frame.
    pub async fn closed(&mut self) -> tokio_tungstenite::tungstenite::protocol::CloseFrame {
        loop {
            match tokio::time::timeout(Duration::from_secs(10), self.stream.next()).await.expect("closed within 10 s") {
                Some(Ok(WsMessage::Close(frame))) => return frame.expect("a close frame with a code"),
                Some(Ok(_)) => continue,
                other => panic!("expected a close frame, got {other:?}"),
            }
        }
    }

    /// Proves the connection still works: a ping gets a pong.
    pub async fn assert_alive(&mut self) {
        self.send(&ClientFrame::Ping).await;
        loop {
            if self.next().await == ServerFrame::Pong {
                return;
            }
        }
    }
}

