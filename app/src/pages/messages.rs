//! A conversation's messages: day separators; each message with its
//! sender's picture, nickname and time, the message it answers, its text
//! with clickable links and highlighted mentions (text nodes, never HTML),
//! its reactions, and for the user's own how far it got; join and leave
//! lines; a "new messages" line above the first one unread when the chat
//! opened. The list loads older messages when scrolled to the top, follows
//! new ones while the reader is at the bottom, marks what is shown as read,
//! and brings a message into view on request (a quote, a pin, a search result).

use std::collections::BTreeSet;

use leptos::{html, prelude::*, task::spawn_local};
use wire::{
    fold::Shown,
    model::{ConversationId, ConversationKind, Message, Millis, UserId, MENTION_ALL},
    protocol::{NoticeKind, WsErrorCode},
};

use super::{
    attachment::AttachmentView,
    avatar::Avatar,
    call::CallRecordLine,
    form::{FormFeedback, FormState},
    mentions::split_mentions,
    message_actions::MessageActions,
    open_chat::use_chat,
    quote::Quote,
    reactions::ReactionChips,
    receipt_marks::ReceiptMark,
};
use crate::{
    chat::{use_live, Line, LineKey, NoticeLine},
    client,
    i18n::{local_day, use_i18n, Msg},
};

/// How close to the bottom, in pixels, still counts as at the bottom.
const BOTTOM_SLACK: i32 = 48;
/// How close to the top, in pixels, starts loading older messages.
const TOP_SLACK: i32 = 200;
/// How long a message brought into view stays highlighted.
const FLASH_MS: u64 = 2500;

#[component]
pub fn MessageList(id: ConversationId, at_bottom: RwSignal<bool>) -> impl IntoView {
    let i18n = use_i18n();
    let live = use_live();
    let id = StoredValue::new(id);
    let lines = Memo::new(move |_| live.inbox(|i| i.lines(&id.read_value())));
    let loaded = Memo::new(move |_| live.inbox(|i| i.has_thread(&id.read_value())));
    let has_older = Memo::new(move |_| live.inbox(|i| i.older_than(&id.read_value()).is_some()));
    let unread = Memo::new(move |_| live.inbox(|i| i.unread_shown(&id.read_value())));
    // Where the user had read to when the chat opened with unread messages:
    // the "new messages" line goes below it, and stays while the chat is open.
    let read_at_open = RwSignal::new(None::<u64>);
    let opened = StoredValue::new(false);
    // Taken the first time the list knows the conversation, before anything is marked read.
    let note_opening = move || {
        if opened.get_value() {
            return;
        }
        let summary = live.inbox(|i| i.summary(&id.read_value()).map(|s| (s.read_seq, s.unread)));
        if let Some((read_seq, unread)) = summary {
            opened.set_value(true);
            if unread > 0 {
                read_at_open.set(Some(read_seq));
            }
        }
    };
    Effect::new(note_opening);
    let me = live.inbox(|i| i.me().clone());
    let rows = Memo::new(move |_| with_days(lines.get(), read_at_open.get(), &me));
    let chat = use_chat();
    Effect::new(move || {
        // Senders, and the people their messages mention (shown by name).
        let mentioned = |line: &Line| match line {
            Line::Message(m) => m.message.mentions.iter().filter(|u| u.0 != MENTION_ALL).cloned().collect(),
            _ => Vec::new(),
        };
        let people: BTreeSet<UserId> =
            lines.with(|lines| lines.iter().flat_map(|l| l.user().cloned().into_iter().chain(mentioned(l))).collect());
        live.want_profiles(people);
    });

    let scroller = NodeRef::<html::Div>::new();
    let older = FormState::new(&[]);
    // How many jumps there were: a page loaded for scrolling up keeps the reader's place only if none came between.
    let jumps = StoredValue::new(0u64);
    let load_older = move || {
        let Some(el) = scroller.get_untracked() else { return };
        if !has_older.get_untracked() {
            return;
        }
        // The page lands above what the reader sees: keep that where it is
        // (unless a jump took the reader elsewhere meanwhile).
        let from_bottom = el.scroll_height() - el.scroll_top();
        let jumps_then = jumps.get_value();
        older.run([], live.load_older(id.get_value()), move |()| {
            if jumps.get_value() != jumps_then {
                return;
            }
            request_animation_frame(move || {
                if let Some(el) = scroller.get_untracked() {
                    el.set_scroll_top(el.scroll_height() - from_bottom);
                }
            });
        });
    };
    let to_bottom = move || {
        if let Some(el) = scroller.get_untracked() {
            el.set_scroll_top(el.scroll_height());
        }
    };
    // Down to the newest message, while the reader follows them.
    let follow = move || {
        if at_bottom.get_untracked() {
            to_bottom();
        }
    };
    // Only the reader moves the list up: content growing or shrinking under
    // it (a picture loading, a message arriving between a scroll and its
    // event) never lowers `scrollTop` short of the bottom. So the reader has
    // left the bottom when a scroll event finds the list higher than the one
    // before and not at the bottom; anything else that leaves it short of
    // the bottom while following sends it down again.
    let last_top = StoredValue::new(0);
    let on_scroll = move |_| {
        let Some(el) = scroller.get_untracked() else { return };
        let top = el.scroll_top();
        let went_up = top < last_top.get_value();
        last_top.set_value(top);
        let bottom = el.scroll_height() - top - el.client_height() <= BOTTOM_SLACK;
        if bottom || went_up {
            if bottom != at_bottom.get_untracked() {
                at_bottom.set(bottom);
            }
        } else {
            follow();
        }
        if top < TOP_SLACK {
            load_older();
        }
    };
    // Whatever changes size while the list is at the bottom (pictures
    // loading, the "load earlier" button showing up, the composer growing)
    // keeps it there while the reader is.
    let content = NodeRef::<html::Div>::new();
    let size_watch = StoredValue::new_local(None::<client::SizeWatch>);
    Effect::new(move || {
        if let (Some(list), Some(content)) = (scroller.get(), content.get()) {
            size_watch.set_value(client::watch_size(&[&list, &content], follow));
        }
    });
    // New lines (or the user sending) while at the bottom: stay there.
    Effect::new(move || {
        rows.with(|_| ());
        if at_bottom.get() {
            request_animation_frame(to_bottom);
        }
    });
    // A message asked for comes into view (loading history down to it) and flashes.
    Effect::new(move || {
        let Some(seq) = chat.jump.get() else { return };
        if !loaded.get() {
            return;
        }
        chat.jump.set(None);
        jumps.update_value(|n| *n += 1);
        // Pages loading on the way must not send the list to the bottom.
        at_bottom.set(false);
        spawn_local(async move {
            let _ = live.load_until(id.get_value(), seq).await;
            request_animation_frame(move || {
                let Some(el) = scroller.get_untracked() else { return };
                let Some((row, shown_seq)) = row_at(&el, seq) else { return };
                // Pages that came on the way may have found the list at the bottom (scroll
                // anchoring keeps the view where it was): it no longer follows new messages.
                at_bottom.set(false);
                row.scroll_into_view_with_bool(true);
                el.set_scroll_top(el.scroll_top() - el.client_height() / 3);
                chat.flash.set(Some(shown_seq));
                set_timeout(
                    move || chat.flash.maybe_update(|f| f.take_if(|f| *f == shown_seq).is_some()),
                    std::time::Duration::from_millis(FLASH_MS),
                );
            });
        });
    });
    // The newest messages are read once they are in view on a visible page.
    Effect::new(move || {
        if let Some(seq) = unread.get() {
            note_opening();
            if at_bottom.get() && live.visible() {
                live.mark_read(id.get_value(), seq);
            }
        }
    });

    view! {
        // Outside the list: clicking it scrolls nothing there.
        <Show when=move || read_at_open.get().is_some_and(|r| !live.inbox(|i| i.holds(&id.read_value(), r + 1)))>
            <button
                type="button"
                class="btn secondary small jump-unread"
                data-testid="jump-unread"
                on:click=move |_| chat.jump.set(read_at_open.get_untracked().map(|r| r + 1))
            >
                "↑ " {i18n.tr(Msg::JumpToUnread)}
            </button>
        </Show>
        <div class="messages" node_ref=scroller role="log" aria-labelledby="thread-title" on:scroll=on_scroll>
            <div node_ref=content>
                <Show when=move || has_older.get()>
                    <button
                        type="button"
                        class="link-button load-earlier"
                        data-testid="load-earlier"
                        disabled=move || older.pending()
                        on:click=move |_| load_older()
                    >
                        {i18n.tr(Msg::LoadEarlier)}
                    </button>
                </Show>
                <FormFeedback state=older/>
                <Show when=move || loaded.get() && lines.with(Vec::is_empty)>
                    <p class="muted no-messages">{i18n.tr(Msg::NoMessagesYet)}</p>
                </Show>
                <ol class="message-rows">
                    <For each=move || rows.get() key=Row::key let:row>
                        {match row {
                            Row::Day(ms) => view! { <DaySeparator ms/> }.into_any(),
                            Row::Unread => view! {
                                <li class="unread-divider" data-testid="unread-divider">
                                    <span>{i18n.tr(Msg::NewMessages)}</span>
                                </li>
                            }
                            .into_any(),
                            Row::Line(line, follows) => {
                                view! { <LineRow line follows conversation=id.get_value()/> }.into_any()
                            }
                        }}
                    </For>
                </ol>
            </div>
        </div>
    }
}

/// The row of the message at `seq`, or of the first one after it (`seq`
/// may be a change, or a message not shown), with that message's seq.
fn row_at(list: &leptos::web_sys::HtmlDivElement, seq: u64) -> Option<(leptos::web_sys::Element, u64)> {
    /// How many seqs on a row is looked at: changes between messages are few.
    const LOOK_AHEAD: u64 = 500;
    (seq..seq + LOOK_AHEAD).find_map(|at| {
        let row = list.query_selector(&format!("li[data-seq=\"{at}\"]")).ok().flatten()?;
        Some((row, at))
    })
}

/// A line of the list: a conversation's line, the start of a day, or where the unread messages start.
#[derive(Clone, Debug, PartialEq, Eq)]
enum Row {
    /// The day of this moment starts here.
    Day(Millis),
    Unread,
    /// A line, and whether it continues its sender's run (same sender, a few minutes apart).
    Line(Line, bool),
}

#[derive(Clone, Debug, PartialEq, Eq, Hash)]
enum RowKey {
    Day(i64),
    Unread,
    Line(LineKey, bool),
}

impl Row {
    fn key(&self) -> RowKey {
        match self {
            Row::Day(ms) => RowKey::Day(local_day(*ms)),
            Row::Unread => RowKey::Unread,
            Row::Line(line, follows) => RowKey::Line(line.key(), *follows),
        }
    }
}

/// How long a touch on a message opens its actions.
const LONG_PRESS: std::time::Duration = std::time::Duration::from_millis(500);

/// Messages of one sender this close after each other show as one run: one name and picture.
const RUN_GAP_MS: Millis = 5 * 60 * 1000;

/// The lines with a day separator before the first of each day, the
/// "new messages" line before the first message after `read` not the user's,
/// and each line marked when it continues its sender's run.
fn with_days(lines: Vec<Line>, read: Option<u64>, me: &UserId) -> Vec<Row> {
    let mut rows = Vec::with_capacity(lines.len() + 2);
    let mut day = None;
    let mut unread_from = read;
    // The sender and time of the line before, while a run can go on.
    let mut run: Option<(UserId, Millis)> = None;
    for line in lines {
        if let Some(ms) = line.created_ms() {
            if day != Some(local_day(ms)) {
                day = Some(local_day(ms));
                rows.push(Row::Day(ms));
                run = None;
            }
        }
        if let (Some(read), Line::Message(m)) = (unread_from, &line) {
            if m.message.seq > read && &m.message.sender_id != me {
                rows.push(Row::Unread);
                unread_from = None;
                run = None;
            }
        }
        let sent = match &line {
            Line::Message(m) if m.message.call.is_none() => Some((m.message.sender_id.clone(), m.message.created_ms)),
            Line::Outgoing(o) => Some((me.clone(), o.created_ms)),
            _ => None,
        };
        let follows = matches!(
            (&run, &sent),
            (Some((who, at)), Some((sender, ms))) if who == sender && ms - at <= RUN_GAP_MS
        );
        run = sent;
        rows.push(Row::Line(line, follows));
    }
    rows
}

#[component]
fn DaySeparator(ms: Millis) -> impl IntoView {
    let i18n = use_i18n();
    view! {
        <li class="day-separator">
            <span>{move || i18n.day(ms)}</span>
        </li>
    }
}

/// "Ada joined the group", and the like.
#[component]
fn NoticeRow(notice: NoticeLine) -> impl IntoView {
    let i18n = use_i18n();
    let live = use_live();
    let what = match notice.kind {
        NoticeKind::Join => Msg::NoticeJoined,
        NoticeKind::Leave => Msg::NoticeLeft,
        _ => Msg::NoticeRemoved,
    };
    let who = move || live.profile(&notice.user_id).map(|p| p.nickname).unwrap_or_default();
    view! { <li class="system-line" data-testid="system-line">{move || format!("{} {}", who(), i18n.t(what))}</li> }
}

/// A stored message, one of the user's on its way, or a notice.
#[component]
fn LineRow(line: Line, follows: bool, conversation: ConversationId) -> impl IntoView {
    let i18n = use_i18n();
    let live = use_live();
    let me = live.inbox(|i| i.me().clone());
    let (shown, outgoing) = match line {
        Line::Message(shown) => (*shown, None),
        Line::Outgoing(o) => {
            let message = Message {
                sender_id: me.clone(),
                kind: o.kind,
                content: o.content.clone(),
                attachment: o.attachment.clone(),
                created_ms: o.created_ms,
                ..Message::default()
            };
            (Shown::from(message), Some(o))
        }
        Line::Notice(notice) => return view! { <NoticeRow notice/> }.into_any(),
    };
    let chat = use_chat();
    let stored = outgoing.is_none().then(|| shown.clone());
    let Shown { message: m, edited_ms, deleted_by, .. } = shown;
    let (sender, content, kind, attachment, call, created_ms) = (m.sender_id, m.content, m.kind, m.attachment, m.call, m.created_ms);
    let (reply_to, mentions) = (m.reply_to, m.mentions);
    let seq = outgoing.is_none().then_some(m.seq);
    let mine = sender == me;
    let seed = sender.to_string();
    let mentions_me = mentions_me(&mentions, &me);
    // Who removed the message, when not its sender.
    let remover = deleted_by.clone().filter(|by| by != &sender);
    // Read as it changes: the messages may show before the chat's kind is known.
    let group = Signal::derive(move || chat.kind().map(|kind| kind == ConversationKind::Group));
    let actions_open = RwSignal::new(false);
    // A long press on a touch screen opens the actions too (not every browser
    // turns it into a `contextmenu` event); lifting or scrolling cancels it.
    let press = StoredValue::new(None::<TimeoutHandle>);
    let cancel_press = move || {
        if let Some(timer) = press.get_value() {
            timer.clear();
        }
        press.set_value(None);
    };
    // The names its mentions stand for in the text: `@nickname`, `@all`.
    let mention_names = Signal::derive(move || {
        let name = |id: &UserId| match id.0.as_str() {
            MENTION_ALL => Some(format!("@{MENTION_ALL}")),
            _ => live.profile(id).map(|p| format!("@{}", p.nickname)),
        };
        mentions.iter().filter_map(name).collect::<Vec<_>>()
    });
    let profile = Signal::derive(move || live.profile(&sender));
    let nickname = Signal::derive(move || profile.with(|p| p.as_ref().map(|p| p.nickname.clone()).unwrap_or_default()));
    let avatar = Signal::derive(move || profile.with(|p| p.as_ref().and_then(|p| p.avatar.clone())));
    let pending = outgoing.as_ref().is_some_and(|o| o.failure.is_none());
    let failure = outgoing.as_ref().and_then(|o| o.failure.map(|code| (code, o.client_id.clone())));
    let failed = failure.is_some();
    // An attachment with its caption; a kind without one (a call) by its name.
    let caption = (!content.is_empty()).then(|| {
        let content = content.clone();
        view! { <p class="message-text" dir="auto" data-testid="message-text">{move || linkified(&content, &mention_names.get())}</p> }
    });
    let body = match (attachment, Msg::for_kind(kind)) {
        _ if deleted_by.is_some() => {
            let removed_by = remover.map(|by| {
                let who = move || live.profile(&by).map(|p| p.nickname).unwrap_or_default();
                view! { " · " {i18n.tr(Msg::RemovedBy)} " " {who} }
            });
            view! {
                <p class="message-text deleted" data-testid="message-deleted">
                    <em>{i18n.tr(Msg::MessageDeleted)} {removed_by}</em>
                </p>
            }
            .into_any()
        }
        _ if call.is_some() => {
            view! { <CallRecordLine kind record=*call.expect("checked") mine/> }.into_any()
        }
        (Some(attachment), _) => view! { <AttachmentView kind attachment=*attachment/> {caption} }.into_any(),
        (None, Some(label)) => {
            view! { <p class="message-text" data-testid="message-text"><em>{i18n.tr(label)}</em></p> }.into_any()
        }
        (None, None) => caption.into_any(),
    };
    let standing = deleted_by.is_none();
    let quote = reply_to.map(|to| view! { <Quote conversation=conversation.clone() seq=to/> });
    let chips = stored.clone().filter(|s| !s.reactions.is_empty() && standing).map(|shown| view! { <ReactionChips shown/> });
    let receipt = seq.filter(|_| mine && standing).map(|seq| view! { <ReceiptMark conversation=conversation.clone() seq group/> });
    let toolbar = stored.clone().filter(|_| standing).map(|shown| view! { <MessageActions shown open=actions_open/> });
    let more = stored.filter(|_| standing).map(|_| {
        view! {
            <button
                type="button"
                class="message-more"
                data-testid="message-actions"
                aria-label=i18n.tr(Msg::MessageActions)
                title=i18n.tr(Msg::MessageActions)
                aria-expanded=move || actions_open.get().to_string()
                on:click=move |_| actions_open.update(|o| *o = !*o)
            >
                "⋯"
            </button>
        }
    });
    let history_of = (conversation.clone(), seq);
    view! {
        <li
            class="message"
            class:mine=mine
            class:follows=follows
            class:pending=pending
            class:failed=failed
            class:mentions-me=mentions_me
            class:flash=move || seq.is_some() && chat.flash.get() == seq
            data-testid="message"
            data-seq=seq.map(|s| s.to_string())
            data-pending=pending.then_some("true")
            data-failed=failed.then_some("true")
            on:contextmenu=move |ev| {
                if seq.is_some() && standing {
                    ev.prevent_default();
                    actions_open.set(true);
                }
            }
            on:pointerdown=move |ev| {
                if ev.pointer_type() == "touch" && seq.is_some() && standing {
                    let timer = set_timeout_with_handle(move || actions_open.set(true), LONG_PRESS);
                    press.set_value(timer.ok());
                }
            }
            on:pointerup=move |_| cancel_press()
            on:pointercancel=move |_| cancel_press()
        >
            <Avatar url=avatar name=nickname seed/>
            <div class="bubble">
                <p class="message-meta">
                    <span class="message-sender" dir="auto" data-testid="message-sender">{nickname}</span>
                    <time class="message-time" data-testid="message-time" title=move || i18n.time(created_ms)>
                        {move || i18n.clock(created_ms)}
                    </time>
                    {pending.then(|| view! { <span class="sending">{i18n.tr(Msg::Sending)}</span> })}
                    {edited_ms
                        .filter(|_| standing)
                        .map(|at| view! { <EditedMark at conversation=history_of.0.clone() seq=history_of.1.unwrap_or_default()/> })}
                    {receipt}
                </p>
                {quote}
                {body}
                {chips}
                {toolbar}
                {failure
                    .map(|(code, client_id)| {
                        // Sending refused text again would be refused again.
                        let retry = (code != WsErrorCode::ContentRefused).then(|| view! {
                            " "
                            <button
                                type="button"
                                class="link-button"
                                data-testid="retry"
                                on:click=move |_| live.retry(conversation.clone(), &client_id)
                            >
                                {i18n.tr(Msg::Retry)}
                            </button>
                        });
                        view! {
                            <p class="send-error" role="alert" data-testid="send-error">
                                {move || i18n.t(Msg::for_send_error(code))}
                                {retry}
                            </p>
                        }
                    })}
            </div>
            {more}
        </li>
    }
    .into_any()
}

/// Whether a message's mentions include the user (or everyone).
fn mentions_me(mentions: &[UserId], me: &UserId) -> bool {
    mentions.iter().any(|m| m == me || m.0 == MENTION_ALL)
}

/// "edited", with when on hover; a click lists the texts it had before.
#[component]
fn EditedMark(at: Millis, conversation: ConversationId, seq: u64) -> impl IntoView {
    let i18n = use_i18n();
    let open = RwSignal::new(false);
    let conversation = StoredValue::new(conversation);
    view! {
        <button
            type="button"
            class="link-button edited"
            data-testid="message-edited"
            title=move || i18n.time(at)
            aria-expanded=move || open.get().to_string()
            on:click=move |_| open.update(|o| *o = !*o)
        >
            {i18n.tr(Msg::Edited)}
        </button>
        <Show when=move || open.get()>
            {Suspend::new(edit_history(conversation.get_value(), seq))}
        </Show>
    }
}

/// The texts a message had before, loaded with the first list opened (its
/// own wasm chunk when built with `--split`).
#[lazy]
fn edit_history(conversation: ConversationId, seq: u64) -> AnyView {
    let i18n = use_i18n();
    let history = use_live().inbox(|i| i.edit_history(&conversation, seq));
    view! {
        <div class="edit-history" data-testid="edit-history" role="status">
            <p class="muted">{i18n.tr(Msg::EditHistory)}</p>
            <ol>
                {history
                    .into_iter()
                    .map(|(text, replaced)| view! {
                        <li><time>{i18n.time(replaced)}</time> " " <span dir="auto">{text}</span></li>
                    })
                    .collect_view()}
            </ol>
        </div>
    }
    .into_any()
}

/// Text with its web addresses as links that open in a new tab and the
/// `@names` it mentions highlighted. Every piece is a text node, so markup
/// in a message shows as typed.
fn linkified(text: &str, mentions: &[String]) -> impl IntoView {
    linkify(text)
        .into_iter()
        .map(|piece| match piece {
            Piece::Text(t) => split_mentions(t, mentions)
                .into_iter()
                .map(|(run, mention)| match mention {
                    true => view! { <span class="mention" data-testid="mention">{run.to_owned()}</span> }.into_any(),
                    false => run.to_owned().into_any(),
                })
                .collect_view()
                .into_any(),
            Piece::Link(url) => {
                view! { <a href=url.to_owned() dir="ltr" target="_blank" rel="noopener noreferrer">{url.to_owned()}</a> }.into_any()
            }
        })
        .collect_view()
}

#[derive(Debug, PartialEq, Eq)]
enum Piece<'a> {
    Text(&'a str),
    Link(&'a str),
}

/// Splits text into plain runs and `http(s)://` links. A link ends at white
/// space, at a control or hidden character (a text-direction override must
/// not ride into an address or its shown text), at `<`, `>` or `"`, or at
/// Chinese punctuation; punctuation that
/// ends a sentence is left out of it, and so is a closing bracket it did not open.
fn linkify(text: &str) -> Vec<Piece<'_>> {
    let mut pieces = Vec::new();
    let mut plain_from = 0;
    let mut from = 0;
    while let Some(start) = find_link(text, from) {
        let end = link_end(text, start);
        if start > plain_from {
            pieces.push(Piece::Text(&text[plain_from..start]));
        }
        pieces.push(Piece::Link(&text[start..end]));
        plain_from = end;
        from = end;
    }
    if plain_from < text.len() {
        pieces.push(Piece::Text(&text[plain_from..]));
    }
    pieces
}

/// Where the next link starts at or after byte `from`: a scheme not glued to
/// a word before it, with something after it.
fn find_link(text: &str, from: usize) -> Option<usize> {
    text[from..].char_indices().map(|(i, _)| from + i).find(|&i| {
        let rest = &text[i..];
        let scheme = ["http://", "https://"]
            .into_iter()
            .find(|s| rest.get(..s.len()).is_some_and(|r| r.eq_ignore_ascii_case(s)));
        // Chinese text runs into links without a space; Latin words do not.
        let glued = text[..i].chars().next_back().is_some_and(|c| c.is_ascii_alphanumeric());
        scheme.is_some_and(|s| !glued && link_end(text, i) > i + s.len())
    })
}

fn link_end(text: &str, start: usize) -> usize {
    const STOPS: &str = "<>\"，。！？；：、（）【】《》「」“”‘’";
    let mut end = text[start..]
        .char_indices()
        .find(|(_, c)| c.is_whitespace() || wire::api::is_hidden(*c) || STOPS.contains(*c))
        .map_or(text.len(), |(i, _)| start + i);
    while let Some(last) = text[start..end].chars().next_back() {
        let link = &text[start..end];
        let unopened = |open: char| link.matches(last).count() > link.matches(open).count();
        let trim = match last {
            '.' | ',' | ';' | ':' | '!' | '?' | '\'' => true,
            ')' => unopened('('),
            ']' => unopened('['),
            '}' => unopened('{'),
            _ => false,
        };
        if !trim {
            break;
        }
        end -= last.len_utf8();
    }
    end
}

#[cfg(test)]
mod tests {
    use super::{linkify, with_days, Line, Piece, Row};
    use wire::{
        fold::Shown,
        model::{ConversationId, Message, MessageId, MessageKind, UserId},
    };
    use crate::chat::Outgoing;

    use Piece::{Link, Text};

    #[test]
    fn finds_links_in_text() {
        assert_eq!(linkify("no links here"), [Text("no links here")]);
        assert_eq!(
            linkify("see https://example.org/a?b=1&c=2, then"),
            [Text("see "), Link("https://example.org/a?b=1&c=2"), Text(", then")]
        );
        assert_eq!(linkify("HTTP://X.ORG."), [Link("HTTP://X.ORG"), Text(".")]);
        assert_eq!(
            linkify("(https://en.wikipedia.org/wiki/Rust_(language))"),
            [Text("("), Link("https://en.wikipedia.org/wiki/Rust_(language)"), Text(")")]
        );
        assert_eq!(
            linkify("看这个https://例子.中国/页面，好吗"),
            [Text("看这个"), Link("https://例子.中国/页面"), Text("，好吗")]
        );
        assert_eq!(linkify("<b>x</b> http://a.b"), [Text("<b>x</b> "), Link("http://a.b")]);
        assert_eq!(linkify("bare https:// and xhttps://a.b"), [Text("bare https:// and xhttps://a.b")]);
        assert_eq!(linkify("javascript:alert(1) ftp://a.b"), [Text("javascript:alert(1) ftp://a.b")]);
    }

    #[test]
    fn links_carry_no_direction_controls() {
        assert_eq!(
            linkify("https://a.example/\u{202E}fdp.exe"),
            [Link("https://a.example/"), Text("\u{202E}fdp.exe")]
        );
        assert_eq!(linkify("https://a.b\u{2067}x"), [Link("https://a.b"), Text("\u{2067}x")]);
        assert_eq!(linkify("go\u{200F}https://a.b"), [Text("go\u{200F}"), Link("https://a.b")]);
        assert_eq!(linkify("https://a\u{200B}.b"), [Link("https://a"), Text("\u{200B}.b")]);
    }

    #[test]
    fn separates_days() {
        let message = |seq: u64, created_ms: i64| {
            Line::Message(Box::new(Shown::from(Message {
                id: MessageId(seq.to_string()),
                conversation_id: ConversationId::from("c"),
                seq,
                sender_id: UserId::from("u"),
                client_id: String::new(),
                kind: MessageKind::Text,
                content: String::new(),
                created_ms,
                ..Default::default()
            })))
        };
        const DAY: i64 = 86_400_000;
        let pending = Line::Outgoing(Outgoing::text("c".into(), String::new(), 2 * DAY + 5));
        let me = UserId::from("me");
        let rows = with_days(vec![message(1, 10), message(2, 20), message(3, DAY + 1), pending.clone()], None, &me);
        assert_eq!(
            rows,
            [
                Row::Day(10),
                Row::Line(message(1, 10), false),
                Row::Line(message(2, 20), true),
                Row::Day(DAY + 1),
                Row::Line(message(3, DAY + 1), false),
                Row::Day(2 * DAY + 5),
                Row::Line(pending, false),
            ]
        );
    }

    #[test]
    fn the_new_messages_line_goes_before_the_first_unread_from_others() {
        let me = UserId::from("me");
        let line = |seq: u64, sender: &str| {
            Line::Message(Box::new(Shown::from(Message {
                seq,
                sender_id: UserId::from(sender),
                created_ms: 10,
                ..Default::default()
            })))
        };
        let rows = with_days(vec![line(1, "u"), line(2, "me"), line(3, "u")], Some(1), &me);
        assert_eq!(
            rows,
            [
                Row::Day(10),
                Row::Line(line(1, "u"), false),
                Row::Line(line(2, "me"), false),
                Row::Unread,
                Row::Line(line(3, "u"), false),
            ]
        );
    }
}
