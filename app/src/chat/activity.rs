//! Whether the person is at this device: input of any kind, or the page
//! coming back into view, counts as activity; none for
//! [`client::idle_after_ms`] makes them idle (shown as away, unless another
//! device of theirs is in use).

use std::time::Duration;

use leptos::{ev, prelude::*};

use crate::client;

/// How often idleness is checked.
const CHECK_EVERY: Duration = Duration::from_secs(5);

/// Calls `on_change(active)` whenever the person becomes idle or active again.
/// Lives as long as the page.
pub fn watch(on_change: impl Fn(bool) + Clone + 'static) {
    let last_input = StoredValue::new(client::now_ms() as f64);
    let active = StoredValue::new(true);
    let touch = {
        let on_change = on_change.clone();
        move || {
            last_input.set_value(client::now_ms() as f64);
            if !active.get_value() {
                active.set_value(true);
                on_change(true);
            }
        }
    };
    let t = touch.clone();
    window_event_listener(ev::keydown, move |_| t());
    let t = touch.clone();
    window_event_listener(ev::pointerdown, move |_| t());
    let t = touch.clone();
    window_event_listener(ev::pointermove, move |_| t());
    let t = touch;
    window_event_listener(ev::visibilitychange, move |_| {
        if client::page_visible() {
            t()
        }
    });
    set_interval(
        move || {
            let idle = client::now_ms() as f64 - last_input.get_value() >= client::idle_after_ms();
            if idle && active.get_value() {
                active.set_value(false);
                on_change(false);
            }
        },
        CHECK_EVERY,
    );
}
