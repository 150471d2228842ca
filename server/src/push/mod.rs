//! Web Push notifications (see ARCHITECTURE.md, "Notifications"): a member
//! with no device in view of a conversation learns of its messages from a push
//! service, which wakes the service worker of each device they subscribed.
//!
//! | module | holds |
//! |---|---|
//! | here | [`Pushes`]: subscribing, settings, and gathering what `decide` needs for each stored message |
//! | `keys` | the VAPID key pair, its file, the signed token |
//! | `subscriptions` | a device's subscription checked and kept |
//! | `decide` | whether one member is pushed for one message; no I/O |
//! | `reach` | which addresses a push may be posted to: public ones, no redirects |
//! | `queue` | the bounded queues, the senders, retries |
//! | `send` | one encrypted, signed request and what its answer means |

mod decide;
pub mod keys;
mod queue;
mod reach;
mod send;
mod subscriptions;

use std::{collections::HashMap, sync::Arc, time::Duration};

use tokio::sync::mpsc;
use wire::{
    call::CallInfo,
    model::{ConversationId, ConversationKind, Message, UserId},
    protocol::{ApiError, ErrorCode},
    push::{preview_of, CallPush, NotifySettings, PushEvent, PushPayload, PushSubscription, PUSH_TEST_EVERY_SECS},
};

use self::{
    decide::{decide, Verdict},
    keys::VapidKey,
    send::{Push, Urgency},
};
use crate::{
    chat::writer::Listener,
    clock::now_millis,
    lease::Leases,
    presence::registry::Registry,
    store::{push::StoredSubscription, DynStore, StoreError},
};

/// How pushes are sent, from the flags.
#[derive(Clone, Debug)]
pub struct PushSettings {
    pub key: VapidKey,
    /// The operator's contact in every VAPID token (`mailto:` or `https:`).
    pub contact: String,
    /// At most one push per member and conversation in this long.
    pub coalesce: Duration,
    /// Groups larger than this default to mentions only.
    pub group_size: usize,
    /// Lets `http` and local endpoints subscribe (tests and development).
    pub insecure_endpoints: bool,
    /// How long a call rings: its push is not delivered later.
    pub call_ring: Duration,
}

pub struct Pushes {
    settings: PushSettings,
    store: DynStore,
    presence: Arc<dyn Registry>,
    /// Coalescing windows, one key per member and conversation (shared by the cluster).
    windows: Arc<dyn Leases>,
    client: reqwest::Client,
    /// The senders' queue, for pushes no message caused (a test). Weak: the
    /// senders end once the decisions' task, which holds it, has.
    pending: mpsc::WeakSender<Push>,
}

/// Where the writer hands stored messages (see [`Pushes::start`]).
pub struct Inbox(mpsc::Sender<Message>);

impl Pushes {
    /// Starts the queues and their tasks, which end when the [`Inbox`]
    /// (the writer's) is dropped and what was queued is sent.
    pub fn start(
        settings: PushSettings,
        store: DynStore,
        presence: Arc<dyn Registry>,
        windows: Arc<dyn Leases>,
    ) -> (Arc<Pushes>, Inbox) {
        let client = reach::client(settings.insecure_endpoints);
        queue::describe();
        let (messages, stored) = mpsc::channel(queue::MESSAGES);
        let (decided, pending) = mpsc::channel(queue::PUSHES);
        let pushes = Arc::new(Pushes { settings, store, presence, windows, client, pending: decided.downgrade() });
        tokio::spawn(queue::decide(pushes.clone(), stored, decided));
        queue::start_senders(pushes.clone(), pending);
        (pushes, Inbox(messages))
    }

    /// The VAPID public key browsers subscribe with.
    pub fn public_key(&self) -> &str {
        self.settings.key.public_key()
    }

    /// Keeps `subscription` as the device's.
    pub async fn subscribe(&self, user: &UserId, device: &str, subscription: PushSubscription) -> Result<(), ApiError> {
        let insecure = self.settings.insecure_endpoints;
        subscriptions::subscribe(&self.store, user, device, subscription, insecure).await
    }

    /// Removes the device's subscription; false if it had none.
    pub async fn unsubscribe(&self, user: &UserId, device: &str) -> Result<bool, StoreError> {
        self.store.remove_push_subscription(user, device, None).await
    }

    /// Pushes a test notification to the device's subscription, at most
    /// once every [`PUSH_TEST_EVERY_SECS`] per device (the server posts on
    /// the user's word, so it is bounded like any other request).
    pub async fn send_test(&self, user: &UserId, device: &str) -> Result<(), ApiError> {
        let subscriptions = self.store.push_subscriptions_of(user).await?;
        let Some(subscription) = subscriptions.into_iter().find(|s| s.device_id == device) else {
            return Err(ApiError::new(ErrorCode::NotFound, "this device has no push subscription"));
        };
        let every = Duration::from_secs(PUSH_TEST_EVERY_SECS);
        let key = format!("test:{}:{device}", user.0);
        let too_soon = || ApiError::rate_limited("a test push went moments ago", every);
        // A claim answers what the key holds: a value of this request's own tells it won.
        let mine = crate::store::new_id();
        match self.windows.claim(&key, &mine, every).await {
            Ok(holder) if holder == mine => {}
            Ok(_) => return Err(too_soon()),
            Err(_) => return Err(ApiError::new(ErrorCode::StoreUnavailable, "try again in a moment")),
        }
        match self.enqueue(&PushEvent::Test, subscription, Urgency::High, send::topic("test"), send::TTL) {
            true => Ok(()),
            false => Err(too_soon()),
        }
    }

    /// Queues a push no message caused; false if the queue is full or closed.
    fn enqueue(
        &self,
        event: &PushEvent,
        subscription: StoredSubscription,
        urgency: Urgency,
        topic: String,
        ttl: Duration,
    ) -> bool {
        let payload = serde_json::to_vec(event).expect("a payload serializes");
        let push = Push { subscription, payload, urgency, topic, ttl };
        let queued = self.pending.upgrade().is_some_and(|queue| queue.try_send(push).is_ok());
        match queued {
            true => metrics::gauge!(queue::QUEUED).increment(1.0),
            false => metrics::counter!(queue::DROPPED).increment(1),
        }
        queued
    }

    /// `user` read `conversation` up to `seq` on some device: when that
    /// covers the messages they were pushed, their devices are told to
    /// close its notifications (one low-urgency push per pushed stretch).
    /// In the background: the reader's answer never waits for it.
    pub fn read(self: &Arc<Self>, user: UserId, conversation: ConversationId, seq: u64) {
        let pushes = self.clone();
        tokio::spawn(async move { pushes.close_read(&user, &conversation, seq).await });
    }

    async fn close_read(&self, user: &UserId, conversation: &ConversationId, seq: u64) {
        let key = shown_key(user, conversation);
        let Ok(Some(pushed)) = self.windows.get(&key).await else { return };
        let unread = pushed.parse::<u64>().is_ok_and(|pushed| pushed > seq);
        if unread || self.windows.release(&key, &pushed).await.is_err() {
            return;
        }
        let Ok(subscriptions) = self.store.push_subscriptions_of(user).await else { return };
        let event = PushEvent::Read { conversation_id: conversation.clone() };
        for subscription in subscriptions {
            // The conversation's topic: an undelivered message push is replaced, not delivered.
            self.enqueue(&event, subscription, Urgency::Low, send::topic(&conversation.0), send::TTL);
        }
    }

    /// A call rings for its callee: when no page of theirs is open (pages
    /// ring by themselves) and their settings let it through, their
    /// devices are pushed a call notification. In the background.
    pub fn call(self: &Arc<Self>, call: CallInfo) {
        let pushes = self.clone();
        tokio::spawn(async move { pushes.ring(&call).await });
    }

    async fn ring(&self, call: &CallInfo) {
        let callee = &call.callee_id;
        let connected = self.presence.tallies(std::slice::from_ref(callee)).await;
        if connected.is_ok_and(|t| t.get(callee).is_some_and(|t| t.connected())) {
            return;
        }
        let (Ok(settings), Ok(statuses)) =
            (self.store.notify_settings(callee).await, self.store.status_settings(callee).await)
        else {
            return;
        };
        let status = statuses.status_in(&call.conversation_id);
        if !decide::call_rings(&settings, status, &call.conversation_id, now_millis()) {
            return;
        }
        let Ok(subscriptions) = self.store.push_subscriptions_of(callee).await else { return };
        let event = PushEvent::Call(CallPush {
            call_id: call.call_id.clone(),
            conversation_id: call.conversation_id.clone(),
            caller: call.caller.nickname.clone(),
            media: call.media,
            ring_ms: self.settings.call_ring.as_millis() as u64,
        });
        for subscription in subscriptions {
            let topic = send::topic(&format!("call:{}", call.call_id));
            self.enqueue(&event, subscription, Urgency::High, topic, self.settings.call_ring);
        }
    }

    pub async fn settings(&self, user: &UserId) -> Result<NotifySettings, StoreError> {
        self.store.notify_settings(user).await
    }

    /// Checks and stores the user's settings; answers them as stored.
    pub async fn put_settings(&self, user: &UserId, settings: NotifySettings) -> Result<NotifySettings, ApiError> {
        let settings = settings.check()?;
        self.store.put_notify_settings(user, &settings).await?;
        Ok(settings)
    }

    /// The pushes `message` causes: keeps the members with a subscription,
    /// gathers what [`decide`] needs for all of them at once, then for each
    /// one it lets through reads their subscriptions, checks blocks and takes
    /// their coalescing window.
    async fn pushes_for(&self, message: &Message) -> Result<Vec<Push>, StoreError> {
        if message.kind.is_change() {
            return Ok(Vec::new());
        }
        let id = &message.conversation_id;
        let audience = self.store.push_audience(id).await?;
        let size = audience.members;
        let members: Vec<UserId> = audience.subscribed.into_iter().filter(|u| u != &message.sender_id).collect();
        if members.is_empty() {
            return Ok(Vec::new());
        }
        let Some(conversation) = self.store.conversation(id).await? else { return Ok(Vec::new()) };
        let facts = decide::Conversation {
            kind: conversation.kind,
            members: size,
            group_size: self.settings.group_size,
        };
        // A registry that cannot be reached counts nobody viewing: a push too many beats a missed one.
        let viewers = self.presence.viewers(&members, id).await.unwrap_or_default();
        let mut settings: HashMap<UserId, NotifySettings> =
            self.store.notify_settings_of(&members).await?.into_iter().collect();
        let statuses: HashMap<_, _> = self.store.status_settings_of(&members).await?.into_iter().collect();
        let sender = self.store.users_by_ids(std::slice::from_ref(&message.sender_id)).await?;
        let sender = sender.first().map_or_else(String::new, |u| u.nickname.clone());
        let now = now_millis();
        let mut pushes = Vec::new();
        for user in &members {
            let mine = settings.remove(user).unwrap_or_default();
            let member = decide::Member {
                user,
                settings: &mine,
                status: statuses.get(user).map(|s| s.status_in(id)).unwrap_or_default(),
                viewing: viewers.contains(user),
            };
            let Verdict::Push { mention } = decide(message, facts, member, now) else { continue };
            // What costs a round trip is asked only of those still in: their
            // devices, a block either way, then the window.
            let subscriptions = self.store.push_subscriptions_of(user).await?;
            if subscriptions.is_empty() {
                continue;
            }
            if self.store.link(user, &message.sender_id).await?.is_some_and(|l| l.state.is_block()) {
                continue;
            }
            if !self.take_window(user, message).await {
                metrics::counter!(queue::COALESCED).increment(1);
                continue;
            }
            let payload = PushPayload {
                conversation_id: id.clone(),
                seq: message.seq,
                kind: message.kind,
                sender_id: message.sender_id.clone(),
                sender: sender.clone(),
                conversation: (conversation.kind == ConversationKind::Group).then(|| conversation.name.clone()),
                preview: if mine.hide_previews { None } else { preview_of(&message.content) },
                mention,
            };
            let payload = serde_json::to_vec(&PushEvent::Message(payload)).expect("a payload serializes");
            let urgent = mention || conversation.kind == ConversationKind::Private;
            let urgency = if urgent { Urgency::High } else { Urgency::Normal };
            for subscription in subscriptions {
                let (payload, topic) = (payload.clone(), send::topic(&id.0));
                pushes.push(Push { subscription, payload, urgency, topic, ttl: send::TTL });
            }
            // Until they read this far, a notification may be showing (see `read`).
            if let Err(e) = self.windows.put(&shown_key(user, id), &message.seq.to_string(), send::TTL).await {
                tracing::debug!(error = %e, "a pushed conversation not noted: its notifications stay when read");
            }
        }
        Ok(pushes)
    }

    /// Whether this message opens `user`'s window in its conversation: the
    /// first message of a window is pushed, the others in it are coalesced,
    /// whichever node stored them. An unreachable registry lets it through.
    async fn take_window(&self, user: &UserId, message: &Message) -> bool {
        let key = format!("{}:{}", user.0, message.conversation_id.0);
        match self.windows.claim(&key, &message.id.0, self.settings.coalesce).await {
            Ok(holder) => holder == message.id.0,
            Err(_) => true,
        }
    }
}

/// The lease noting the last message `user` was pushed in `conversation`, until they read it.
fn shown_key(user: &UserId, conversation: &ConversationId) -> String {
    format!("shown:{}:{}", user.0, conversation.0)
}

impl Listener for Inbox {
    fn stored(&self, message: Message) {
        if self.0.try_send(message).is_err() {
            metrics::counter!(queue::DROPPED).increment(1);
        }
    }
}
