//! What every form shares: its request state, labelled fields with their
//! errors, the submit button, and buttons that run a request.
//!
//! Errors are [`ApiError`]s, whether a local check (`wire::api::check_*`) or
//! the server found them. One whose `field` is a field of the form shows
//! beside it (`data-testid="error-<field>"`); any other shows at the top
//! (`data-testid="form-error"`).

use std::future::Future;

use leptos::{prelude::*, task::spawn_local};
use wire::protocol::ApiError;

use crate::{
    i18n::{use_i18n, Msg},
    session::{use_session, Session},
};

/// The state of a form, or of a page's action buttons: what is pending, what
/// went wrong, what went right.
#[derive(Clone, Copy)]
pub struct FormState {
    /// The API field names shown beside their inputs.
    fields: &'static [&'static str],
    errors: RwSignal<Vec<ApiError>>,
    notice: RwSignal<Option<Msg>>,
    pending: RwSignal<bool>,
    session: Session,
}

impl FormState {
    pub fn new(fields: &'static [&'static str]) -> Self {
        Self {
            fields,
            errors: RwSignal::new(Vec::new()),
            notice: RwSignal::new(None),
            pending: RwSignal::new(false),
            session: use_session(),
        }
    }

    /// True while a request runs; reactive.
    pub fn pending(&self) -> bool {
        self.pending.get()
    }

    fn field_error(&self, field: &str) -> Option<ApiError> {
        self.errors
            .with(|errs| errs.iter().find(|e| e.field.as_deref() == Some(field)).cloned())
    }

    fn form_error(&self) -> Option<ApiError> {
        self.errors.with(|errs| {
            errs.iter()
                .find(|e| !e.field.as_deref().is_some_and(|f| self.fields.contains(&f)))
                .cloned()
        })
    }

    /// Forgets the error beside `field`, once the user edits it.
    pub fn clear_field(&self, field: &str) {
        if self
            .errors
            .with_untracked(|errs| errs.iter().any(|e| e.field.as_deref() == Some(field)))
        {
            self.errors
                .update(|errs| errs.retain(|e| e.field.as_deref() != Some(field)));
        }
    }

    /// Shows a success message at the top until the next request.
    pub fn notify(&self, msg: Msg) {
        self.notice.set(Some(msg));
    }

    /// Shows `error`, or clears the errors: for answers that come outside
    /// [`FormState::run`] (a search as one types).
    pub fn show_error(&self, error: Option<ApiError>) {
        self.errors.set(error.into_iter().collect());
    }

    /// Shows the local `problems` if there are any; else sends `request`
    /// (unless one is still pending) and gives its answer to `on_success`,
    /// or shows its error. A sign-out the answer reveals goes to the session.
    pub fn run<T: 'static>(
        &self,
        problems: impl IntoIterator<Item = Option<ApiError>>,
        request: impl Future<Output = Result<T, ApiError>> + 'static,
        on_success: impl FnOnce(T) + 'static,
    ) {
        if self.pending.get_untracked() {
            return;
        }
        self.notice.set(None);
        let problems: Vec<ApiError> = problems.into_iter().flatten().collect();
        if !problems.is_empty() {
            self.errors.set(problems);
            return;
        }
        self.errors.set(Vec::new());
        self.pending.set(true);
        let state = *self;
        spawn_local(async move {
            let answer = state.session.observe(request.await);
            state.pending.set(false);
            match answer {
                Ok(value) => on_success(value),
                Err(e) => state.errors.set(vec![e]),
            }
        });
    }
}

/// The errors without a field of their own, and the latest success message.
#[component]
pub fn FormFeedback(state: FormState) -> impl IntoView {
    let i18n = use_i18n();
    view! {
        {move || {
            state
                .form_error()
                .map(|e| view! { <p class="error" role="alert" data-testid="form-error">{i18n.error(&e)}</p> })
        }}
        {move || {
            state
                .notice
                .get()
                .map(|m| view! { <p class="notice" role="status" data-testid="form-notice">{i18n.t(m)}</p> })
        }}
    }
}

/// A `<form>` that runs `on_submit` instead of loading a page. `inline` puts
/// one field and the button side by side (a search box).
///
/// The submit button stays disabled until the page has hydrated: before
/// that, the browser itself would send the form, passwords in the URL.
#[component]
pub fn Form(
    state: FormState,
    submit: Msg,
    on_submit: impl Fn() + 'static,
    #[prop(optional)] inline: bool,
    /// The submit button's `data-testid`.
    #[prop(default = "submit")]
    testid: &'static str,
    children: Children,
) -> impl IntoView {
    let i18n = use_i18n();
    let hydrated = crate::hydration::hydrated();
    view! {
        <form
            class="form"
            class:inline=inline
            novalidate
            on:submit=move |ev| {
                ev.prevent_default();
                on_submit();
            }
        >
            <FormFeedback state/>
            {children()}
            <button class="btn" type="submit" data-testid=testid disabled=move || state.pending() || !hydrated.get()>
                {move || i18n.t(submit)}
            </button>
        </form>
    }
}

/// A label, the control in `children` (which takes `id=name`), and the error
/// about the API field `name`.
#[component]
pub fn Field(state: FormState, name: &'static str, label: Msg, children: Children) -> impl IntoView {
    let i18n = use_i18n();
    view! {
        <div class="field">
            <label for=name>{i18n.tr(label)}</label>
            {children()}
            {move || {
                state
                    .field_error(name)
                    .map(|e| {
                        view! {
                            <p class="error" id=format!("{name}-error") data-testid=format!("error-{name}")>
                                {i18n.error(&e)}
                            </p>
                        }
                    })
            }}
        </div>
    }
}

/// `aria-invalid` for the control of `name`.
pub fn invalid(state: FormState, name: &'static str) -> impl Fn() -> &'static str {
    move || {
        if state.field_error(name).is_some() {
            "true"
        } else {
            "false"
        }
    }
}

/// A text-like `<input>` in a [`Field`]. Its `data-testid` is `name` with
/// `-` for `_` (`current_password` → `current-password`) unless `testid` says.
#[component]
pub fn TextField(
    state: FormState,
    name: &'static str,
    label: Msg,
    value: RwSignal<String>,
    /// The input's `type`: `text`, `email`, `password`, `search`…
    #[prop(default = "text")]
    kind: &'static str,
    autocomplete: &'static str,
    #[prop(optional)] testid: Option<&'static str>,
) -> impl IntoView {
    let testid = testid.map_or_else(|| name.replace('_', "-"), str::to_owned);
    view! {
        <Field state name label>
            <input
                id=name
                name=name
                type=kind
                autocomplete=autocomplete
                data-testid=testid
                aria-invalid=invalid(state, name)
                aria-describedby=format!("{name}-error")
                prop:value=move || value.get()
                on:input=move |ev| {
                    value.set(event_target_value(&ev));
                    state.clear_field(name);
                }
            />
        </Field>
    }
}

/// A checkbox with its label beside it.
#[component]
pub fn CheckField(label: Msg, checked: RwSignal<bool>, testid: &'static str) -> impl IntoView {
    let i18n = use_i18n();
    view! {
        <label class="check">
            <input
                type="checkbox"
                data-testid=testid
                prop:checked=move || checked.get()
                on:change=move |ev| checked.set(event_target_checked(&ev))
            />
            <span>{i18n.tr(label)}</span>
        </label>
    }
}

/// A button outside a form that starts a request through `state`; disabled
/// while one is pending.
#[component]
pub fn ActionButton(
    state: FormState,
    label: Msg,
    testid: &'static str,
    on_click: impl Fn() + 'static,
    /// A quieter look, for cancelling and removing.
    #[prop(optional)]
    secondary: bool,
) -> impl IntoView {
    let i18n = use_i18n();
    view! {
        <button
            type="button"
            class="btn"
            class:secondary=secondary
            data-testid=testid
            disabled=move || state.pending()
            on:click=move |_| on_click()
        >
            {i18n.tr(label)}
        </button>
    }
}

/// A button that turns something off and on again (the microphone, the
/// camera): its label says what a press does, `aria-pressed` whether it is
/// pressed now.
#[component]
pub fn ToggleButton(
    testid: &'static str,
    #[prop(into)] pressed: Signal<bool>,
    /// The label while not pressed, and while pressed.
    labels: (Msg, Msg),
    on_click: impl Fn() + 'static,
    /// The smaller size, for a bar of controls beside other content.
    #[prop(optional)]
    small: bool,
) -> impl IntoView {
    let i18n = use_i18n();
    view! {
        <button
            type="button"
            class="btn secondary"
            class:small=small
            data-testid=testid
            aria-pressed=move || pressed.get().to_string()
            on:click=move |_| on_click()
        >
            {move || i18n.t(if pressed.get() { labels.1 } else { labels.0 })}
        </button>
    }
}

/// A `<progress max="100">` value for `fraction` (0–1) done, in whole percent.
pub fn percent(fraction: f64) -> u32 {
    (fraction.clamp(0.0, 1.0) * 100.0).round() as u32
}
