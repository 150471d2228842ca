//! The composer's attachment menu: pick a file (a picture goes as an
//! image message, audio as a voice message, video as a video, anything else
//! as a file), or record a voice note or a video clip; then the upload, with
//! a progress bar, and the message.

use std::time::Duration;

use leptos::{html, prelude::*, task::spawn_local};
use wire::{
    api::FileInfo,
    model::{ConversationId, MessageKind},
    protocol::ApiError,
};

use super::{
    form::percent,
    icons::{Icon, Svg},
    menu::Menu,
};
use crate::{
    chat::use_live,
    client::{self, PickedFile},
    i18n::{use_i18n, Msg},
    recorder::Recorder,
};

/// How often the recording time shown moves on.
const TICK: Duration = Duration::from_millis(250);

#[component]
pub fn AttachControls(id: ConversationId, at_bottom: RwSignal<bool>) -> impl IntoView {
    let i18n = use_i18n();
    let live = use_live();
    let id = StoredValue::new(id);
    // The fraction uploaded while an upload runs.
    let progress = RwSignal::new(None::<f64>);
    let problem = RwSignal::new(None::<ApiError>);
    // While the recording panel is up: whether it records a video.
    let recording = RwSignal::new(None::<bool>);

    let send_file = move |file: PickedFile, kind: MessageKind, duration_ms: Option<u64>| {
        progress.set(Some(0.0));
        problem.set(None);
        spawn_local(async move {
            match upload(file, kind, progress).await {
                Ok((kind, info)) => {
                    live.send_attachment(id.get_value(), kind, info.attach(duration_ms), String::new());
                    at_bottom.set(true);
                }
                Err(e) => problem.set(Some(e)),
            }
            progress.set(None);
        });
    };
    let on_pick = move |ev: leptos::ev::Event| {
        if let Some(file) = client::picked_file(&ev) {
            let kind = kind_for(&file.browser_type());
            send_file(file, kind, None);
        }
    };
    let record = move |video: bool| {
        problem.set(None);
        recording.set(Some(video));
    };
    let recorded = Callback::new(move |taken: Option<(PickedFile, u64)>| {
        let video = recording.get_untracked() == Some(true);
        recording.set(None);
        if let Some((file, duration)) = taken {
            send_file(file, if video { MessageKind::Video } else { MessageKind::Voice }, Some(duration));
        }
    });

    let busy = move || progress.get().is_some() || recording.get().is_some();
    view! {
        <Show when=move || progress.get().is_some() || problem.with(Option::is_some)>
            <div class="attach-status">
                {move || {
                    progress
                        .get()
                        .map(|sent| {
                            view! {
                                <progress
                                    data-testid="upload-progress"
                                    max="100"
                                    value=percent(sent)
                                    aria-label=i18n.tr(Msg::UploadProgress)
                                ></progress>
                            }
                        })
                }}
                {move || {
                    problem
                        .get()
                        .map(|e| {
                            view! {
                                <p class="send-error" role="alert" data-testid="attach-error">
                                    {move || i18n.upload_error(&e)}
                                </p>
                            }
                        })
                }}
            </div>
        </Show>
        <Show
            when=move || recording.get().is_some()
            fallback=move || {
                view! {
                    <Menu label=Msg::AttachMenu testid="attach-menu" icon=Icon::Attach class="up start">
                        <label class="menu-item attach-button">
                            <Svg icon=Icon::Attach/>
                            {i18n.tr(Msg::AttachFile)}
                            <input
                                type="file"
                                class="visually-hidden"
                                data-testid="attach-input"
                                disabled=busy
                                on:change=on_pick
                            />
                        </label>
                        <button
                            type="button"
                            class="menu-item"
                            data-testid="record-voice"
                            disabled=busy
                            on:click=move |_| record(false)
                        >
                            <Svg icon=Icon::Mic/>
                            {i18n.tr(Msg::RecordVoice)}
                        </button>
                        <button
                            type="button"
                            class="menu-item"
                            data-testid="record-video"
                            disabled=busy
                            on:click=move |_| record(true)
                        >
                            <Svg icon=Icon::Video/>
                            {i18n.tr(Msg::RecordVideo)}
                        </button>
                    </Menu>
                }
            }
        >
            {move || recording.get().map(|video| Suspend::new(recording_panel(video, problem, recorded)))}
        </Show>
    }
}

/// The upload, in its own wasm chunk: hashing, instant upload and the
/// request with progress are needed only once someone sends a file.
#[lazy]
async fn upload(file: PickedFile, kind: MessageKind, progress: RwSignal<Option<f64>>) -> Result<(MessageKind, FileInfo), ApiError> {
    client::upload_file(&file, kind, move |sent| progress.set(Some(sent))).await
}

/// The recorder, in its own wasm chunk; `on_end` gets the recording, or
/// nothing when it was cancelled or could not start (`problem` says why).
#[lazy]
fn recording_panel(video: bool, problem: RwSignal<Option<ApiError>>, on_end: Callback<Option<(PickedFile, u64)>>) -> AnyView {
    view! { <RecordingPanel video problem on_end/> }.into_any()
}

/// Asks for the microphone (and camera) on mount; shows the time and the
/// stop and cancel buttons once recording.
#[component]
fn RecordingPanel(video: bool, problem: RwSignal<Option<ApiError>>, on_end: Callback<Option<(PickedFile, u64)>>) -> impl IntoView {
    let i18n = use_i18n();
    let recorder = StoredValue::new_local(None::<Recorder>);
    // How long it has been recording; `None` until it started.
    let elapsed_ms = RwSignal::new(None::<u64>);
    let ticker = StoredValue::new(None::<IntervalHandle>);
    let camera = NodeRef::<html::Video>::new();
    // A video recording shows what the camera sees.
    Effect::new(move || {
        if let Some(video) = camera.get() {
            recorder.with_value(|r| r.as_ref().map(|r| r.preview_in(&video)));
        }
    });
    spawn_local(async move {
        match Recorder::start(video).await {
            Ok(started) => {
                let since = started.started_ms();
                // Closed while the browser asked for the microphone: turn it off again.
                if let Some(Some(unwanted)) = recorder.try_set_value(Some(started)) {
                    return unwanted.cancel();
                }
                elapsed_ms.set(Some(0));
                let tick = move || elapsed_ms.set(Some((client::now_ms() - since).max(0) as u64));
                ticker.set_value(set_interval_with_handle(tick, TICK).ok());
            }
            Err(e) => {
                problem.set(Some(e));
                on_end.run(None);
            }
        }
    });
    // The recording as it stands, with the clock stopped.
    let take_recording = move || {
        if let Some(handle) = ticker.try_update_value(Option::take).flatten() {
            handle.clear();
        }
        recorder.try_update_value(Option::take).flatten()
    };
    let discard = move || {
        if let Some(taken) = take_recording() {
            taken.cancel();
        }
    };
    let finish = move |_| {
        let Some(taken) = take_recording() else { return };
        spawn_local(async move {
            match taken.finish().await {
                Ok(file_and_duration) => on_end.run(Some(file_and_duration)),
                Err(e) => {
                    problem.set(Some(e));
                    on_end.run(None);
                }
            }
        });
    };
    let cancel = move |_| {
        discard();
        on_end.run(None);
    };
    on_cleanup(discard);
    view! {
        <Show when=move || elapsed_ms.with(Option::is_some)>
            <Show when=move || video>
                <video class="camera-preview" node_ref=camera autoplay muted playsinline data-testid="camera-preview"></video>
            </Show>
            <div class="recording" data-testid="recording" aria-live="polite">
                <span class="recording-dot" aria-hidden="true"></span>
                <span>{i18n.tr(Msg::Recording)}</span>
                <span data-testid="recording-time">{move || clock(elapsed_ms.get().unwrap_or_default())}</span>
                <button type="button" class="btn" data-testid="record-stop" on:click=finish>
                    {i18n.tr(Msg::StopAndSend)}
                </button>
                <button type="button" class="link-button" data-testid="record-cancel" on:click=cancel>
                    {i18n.tr(Msg::CancelRecording)}
                </button>
            </div>
        </Show>
    }
}

/// The kind of message a file goes as, from the browser's guess at its type.
/// Only a first try: the server sniffs the bytes and may refuse the kind,
/// and the file then goes as a plain file.
fn kind_for(browser_type: &str) -> MessageKind {
    match browser_type.split('/').next().unwrap_or_default() {
        "image" => MessageKind::Image,
        "audio" => MessageKind::Voice,
        "video" => MessageKind::Video,
        _ => MessageKind::File,
    }
}

/// "0:07"
fn clock(ms: u64) -> String {
    let seconds = ms / 1000;
    format!("{}:{:02}", seconds / 60, seconds % 60)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn files_go_as_the_kind_their_type_suggests() {
        assert_eq!(kind_for("image/heic"), MessageKind::Image);
        assert_eq!(kind_for("audio/mpeg"), MessageKind::Voice);
        assert_eq!(kind_for("video/mp4"), MessageKind::Video);
        assert_eq!(kind_for(""), MessageKind::File);
        assert_eq!(kind_for("application/pdf"), MessageKind::File);
        assert_eq!(clock(67_900), "1:07");
    }
}
