//! The websocket to [`WS_PATH`](wire::protocol::WS_PATH): opened on the
//! page's own origin (`ws:` or `wss:` as the page is `http:` or `https:`),
//! where the browser attaches the HttpOnly session cookie; reopened after any
//! drop with exponential backoff; kept alive with a `ping` every 25 seconds.
//!
//! The link reports what happens through one callback ([`LinkEvent`]) and
//! leaves every decision about the chat (what to resume, what to resend) to
//! its owner, [`Live`](super::Live).
//!
//! As in [`crate::client`], the browser build uses `browser`; the server
//! build links `inert`, which never connects (only effects open a link, and
//! they run in the browser).

#[cfg(feature = "hydrate")]
pub use browser::Link;
#[cfg(not(feature = "hydrate"))]
pub use inert::Link;

use wire::protocol::ServerFrame;

/// What the connection indicator shows.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum LinkState {
    /// The first connection is on its way.
    #[default]
    Connecting,
    /// Connected: the server said hello.
    Online,
    /// The connection dropped or could not be made; the next attempt is scheduled.
    Offline,
    /// The server refused the connection: the account or device has as many
    /// open as it allows. Tried again later, in case some have closed.
    Crowded,
}

impl LinkState {
    /// The indicator's `data-state`.
    pub fn name(self) -> &'static str {
        match self {
            LinkState::Connecting => "connecting",
            LinkState::Online => "online",
            LinkState::Offline => "offline",
            LinkState::Crowded => "crowded",
        }
    }
}

/// What the link tells its owner (only the browser's link has anything to tell).
#[cfg_attr(not(feature = "hydrate"), allow(dead_code))]
pub enum LinkEvent {
    State(LinkState),
    /// A frame from the server; after a `State(Online)` for its `hello`.
    Frame(ServerFrame),
    /// A connection closed before the server said hello. The websocket
    /// handshake cannot say why: the session may have ended.
    Refused,
    /// The server closed the connection because this device was signed out
    /// or signed in again (close codes 4001 and 4002). The link does not
    /// reconnect by itself after this; see [`Link::reconnect`].
    SignedOut,
}

/// First wait before reconnecting, doubled after each failed attempt…
#[cfg(any(feature = "hydrate", test))]
const FIRST_RETRY_MS: f64 = 500.0;
/// …up to this.
#[cfg(any(feature = "hydrate", test))]
const MAX_RETRY_MS: f64 = 15_000.0;

/// The wait before reconnect attempt `attempt` (counted from 0): doubling
/// from 0.5 s to 15 s, of which a random half to all is taken (`jitter` in
/// `0..1`), so that clients a server restart dropped together do not all
/// return at the same moment.
#[cfg(any(feature = "hydrate", test))]
fn retry_delay_ms(attempt: u32, jitter: f64) -> f64 {
    let full = (FIRST_RETRY_MS * 2f64.powi(attempt.min(16) as i32)).min(MAX_RETRY_MS);
    full * (0.5 + jitter / 2.0)
}

#[cfg(feature = "hydrate")]
mod browser {
    use std::{
        cell::RefCell,
        rc::{Rc, Weak},
        time::Duration,
    };

    use leptos::{
        ev,
        prelude::{
            set_interval_with_handle, set_timeout_with_handle, window, window_event_listener, IntervalHandle,
            TimeoutHandle, WindowListenerHandle,
        },
    };
    use wasm_bindgen::{closure::Closure, JsCast};
    use web_sys::{CloseEvent, MessageEvent, WebSocket};

    use super::{retry_delay_ms, LinkEvent, LinkState};
    use wire::protocol::{close, ClientFrame, ServerFrame, WS_PATH};

    const PING_EVERY: Duration = Duration::from_secs(25);
    /// Nothing heard for this long (two pings unanswered) means the connection
    /// is dead, even when the browser has not noticed (a laptop that slept).
    const SILENCE_MS: f64 = 60_000.0;

    /// An open link; dropping it closes the websocket and stops reconnecting.
    pub struct Link(Rc<Inner>);

    struct Inner {
        on_event: Box<dyn Fn(LinkEvent)>,
        state: RefCell<State>,
    }

    #[derive(Default)]
    struct State {
        socket: Option<WebSocket>,
        /// The server said hello on `socket`.
        ready: bool,
        /// Failed attempts since the last hello.
        attempts: u32,
        retry: Option<TimeoutHandle>,
        last_heard_ms: f64,
        ping: Option<IntervalHandle>,
        listeners: Vec<WindowListenerHandle>,
        closed: bool,
    }

    /// A callback for the browser that reaches the link while it lives. The
    /// browser's callbacks hold the link weakly, so dropping it ends them all.
    fn weakly<A>(inner: &Rc<Inner>, f: impl Fn(&Rc<Inner>, A) + 'static) -> impl Fn(A) + 'static {
        let weak: Weak<Inner> = Rc::downgrade(inner);
        move |arg| {
            if let Some(inner) = weak.upgrade() {
                f(&inner, arg);
            }
        }
    }

    impl Link {
        pub fn open(on_event: impl Fn(LinkEvent) + 'static) -> Link {
            let inner = Rc::new(Inner { on_event: Box::new(on_event), state: RefCell::default() });
            let ping = weakly(&inner, |inner, ()| keep_alive(inner));
            let ping = set_interval_with_handle(move || ping(()), PING_EVERY).ok();
            let listeners = vec![
                // Back online: try at once rather than wait out the backoff.
                window_event_listener(ev::online, weakly(&inner, |inner, _| {
                    if !inner.state.borrow().ready {
                        inner.state.borrow_mut().attempts = 0;
                        connect(inner);
                    }
                })),
                // The socket cannot survive this, but may take minutes to notice.
                window_event_listener(ev::offline, weakly(&inner, |inner, _| drop_socket(inner))),
            ];
            {
                let mut state = inner.state.borrow_mut();
                state.ping = ping;
                state.listeners = listeners;
            }
            inner.emit(LinkEvent::State(LinkState::Connecting));
            connect(&inner);
            Link(inner)
        }

        /// Sends a frame if the link is up; `false` if it is not.
        pub fn send(&self, frame: &ClientFrame) -> bool {
            send(&self.0, frame)
        }

        /// Connects again now, after [`LinkEvent::SignedOut`] turned out to
        /// concern an older session.
        pub fn reconnect(&self) {
            self.0.state.borrow_mut().attempts = 0;
            connect(&self.0);
        }
    }

    impl Drop for Link {
        fn drop(&mut self) {
            let mut state = self.0.state.borrow_mut();
            state.closed = true;
            if let Some(retry) = state.retry.take() {
                retry.clear();
            }
            if let Some(ping) = state.ping.take() {
                ping.clear();
            }
            state.listeners.drain(..).for_each(WindowListenerHandle::remove);
            if let Some(socket) = state.socket.take() {
                abandon(&socket);
            }
        }
    }

    impl Inner {
        fn emit(&self, event: LinkEvent) {
            (self.on_event)(event);
        }

        fn on_text(&self, text: &str) {
            let frame = match ServerFrame::from_json(text) {
                Ok(frame) => frame,
                Err(e) => {
                    leptos::logging::warn!("natter: ignoring an unknown frame: {e}");
                    return;
                }
            };
            let hello = matches!(frame, ServerFrame::Hello { .. });
            {
                let mut state = self.state.borrow_mut();
                state.last_heard_ms = js_sys::Date::now();
                if hello {
                    state.ready = true;
                    state.attempts = 0;
                }
            }
            if hello {
                self.emit(LinkEvent::State(LinkState::Online));
            }
            self.emit(LinkEvent::Frame(frame));
        }
    }

    /// Opens a new websocket in place of any other.
    fn connect(inner: &Rc<Inner>) {
        let mut state = inner.state.borrow_mut();
        if state.closed {
            return;
        }
        if let Some(retry) = state.retry.take() {
            retry.clear();
        }
        if let Some(old) = state.socket.take() {
            abandon(&old);
        }
        state.ready = false;
        let Ok(socket) = WebSocket::new(&url()) else {
            drop(state);
            return retry_later(inner);
        };
        let on_message = weakly(inner, |inner, ev: MessageEvent| {
            if let Some(text) = ev.data().as_string() {
                inner.on_text(&text);
            }
        });
        let on_close = weakly(inner, |inner, ev: CloseEvent| closed(inner, ev.code()));
        // Handed to the browser's garbage collector, which frees them with the socket.
        let on_message = Closure::<dyn Fn(MessageEvent)>::new(on_message).into_js_value();
        let on_close = Closure::<dyn Fn(CloseEvent)>::new(on_close).into_js_value();
        socket.set_onmessage(Some(on_message.unchecked_ref()));
        socket.set_onclose(Some(on_close.unchecked_ref()));
        state.socket = Some(socket);
    }

    fn url() -> String {
        let location = window().location();
        let scheme = if location.protocol().is_ok_and(|p| p == "https:") { "wss" } else { "ws" };
        format!("{scheme}://{}{WS_PATH}", location.host().unwrap_or_default())
    }

    /// Closes a socket without hearing from it again.
    fn abandon(socket: &WebSocket) {
        socket.set_onmessage(None);
        socket.set_onclose(None);
        let _ = socket.close();
    }

    /// The current socket closed (the browser or the server closed it).
    fn closed(inner: &Rc<Inner>, code: u16) {
        let was_ready = {
            let mut state = inner.state.borrow_mut();
            state.socket = None;
            std::mem::take(&mut state.ready)
        };
        if code == close::SIGNED_IN_AGAIN || code == close::SIGNED_OUT {
            inner.emit(LinkEvent::State(LinkState::Offline));
            return inner.emit(LinkEvent::SignedOut);
        }
        if code == close::TOO_MANY_CONNECTIONS {
            inner.emit(LinkEvent::State(LinkState::Crowded));
            return retry_later(inner);
        }
        inner.emit(LinkEvent::State(LinkState::Offline));
        if !was_ready {
            inner.emit(LinkEvent::Refused);
        }
        retry_later(inner);
    }

    /// Gives up on the current socket and schedules a new one.
    fn drop_socket(inner: &Rc<Inner>) {
        let Some(socket) = inner.state.borrow_mut().socket.take() else { return };
        abandon(&socket);
        inner.state.borrow_mut().ready = false;
        inner.emit(LinkEvent::State(LinkState::Offline));
        retry_later(inner);
    }

    fn retry_later(inner: &Rc<Inner>) {
        let mut state = inner.state.borrow_mut();
        if state.closed || state.retry.is_some() {
            return;
        }
        let delay = retry_delay_ms(state.attempts, js_sys::Math::random());
        state.attempts += 1;
        let retry = weakly(inner, |inner, ()| {
            inner.state.borrow_mut().retry = None;
            connect(inner);
        });
        state.retry = set_timeout_with_handle(move || retry(()), Duration::from_millis(delay as u64)).ok();
    }

    fn keep_alive(inner: &Rc<Inner>) {
        let (ready, silent) = {
            let state = inner.state.borrow();
            (state.ready, js_sys::Date::now() - state.last_heard_ms > SILENCE_MS)
        };
        if ready && silent {
            drop_socket(inner);
        } else if ready {
            send(inner, &ClientFrame::Ping);
        }
    }

    fn send(inner: &Inner, frame: &ClientFrame) -> bool {
        let state = inner.state.borrow();
        let Some(socket) = state.socket.as_ref().filter(|_| state.ready) else {
            return false;
        };
        let text = serde_json::to_string(frame).expect("frames serialize");
        socket.send_with_str(&text).is_ok()
    }
}

/// The server build's stand-in for `browser::Link`; see the module docs.
#[cfg(not(feature = "hydrate"))]
mod inert {
    use super::LinkEvent;
    use wire::protocol::ClientFrame;

    pub struct Link;

    impl Link {
        pub fn open(_: impl Fn(LinkEvent) + 'static) -> Link {
            Link
        }

        pub fn send(&self, _: &ClientFrame) -> bool {
            false
        }

        pub fn reconnect(&self) {}
    }
}

#[cfg(test)]
mod tests {
    use super::retry_delay_ms;

    #[test]
    fn backoff_doubles_to_a_ceiling_with_jitter() {
        assert_eq!(retry_delay_ms(0, 0.0), 250.0);
        assert_eq!(retry_delay_ms(0, 1.0), 500.0);
        assert_eq!(retry_delay_ms(1, 1.0), 1000.0);
        assert_eq!(retry_delay_ms(4, 1.0), 8000.0);
        assert_eq!(retry_delay_ms(5, 1.0), 15_000.0);
        assert_eq!(retry_delay_ms(500, 0.0), 7_500.0);
    }
}
