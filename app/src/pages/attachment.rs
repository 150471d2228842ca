//! A message's attachment in the list: a picture's thumbnail that opens the
//! full picture, an audio player with the note's length, a video player, or
//! a file card with its name, size and a download link.

use leptos::prelude::*;
use wire::{
    endpoint,
    model::{Attachment, MessageKind},
};

use crate::{
    client,
    i18n::{use_i18n, Msg},
};

#[component]
pub fn AttachmentView(kind: MessageKind, attachment: Attachment) -> impl IntoView {
    let url = endpoint::file(&attachment.file_id);
    match kind {
        MessageKind::Image if attachment.thumbnail => view! { <Picture attachment url/> }.into_any(),
        MessageKind::Voice => {
            let length = attachment.duration_ms.map(duration);
            view! {
                <div class="attachment voice">
                    <audio controls preload="metadata" src=url data-testid="attachment-audio"></audio>
                    {length.map(|l| view! { <span class="muted" data-testid="attachment-duration">{l}</span> })}
                </div>
            }
            .into_any()
        }
        MessageKind::Video => view! {
            <div class="attachment video">
                <video controls preload="metadata" playsinline src=url data-testid="attachment-video"></video>
            </div>
        }
        .into_any(),
        _ => view! { <FileCard attachment url/> }.into_any(),
    }
}

/// The thumbnail; a click shows the full picture above the page, another closes it.
#[component]
fn Picture(attachment: Attachment, url: String) -> impl IntoView {
    let i18n = use_i18n();
    let open = RwSignal::new(false);
    let thumbnail = format!("{url}/thumbnail");
    let (width, height) = thumbnail_size(attachment.width, attachment.height);
    let name = attachment.name.clone();
    view! {
        <div class="attachment picture">
            <button
                type="button"
                class="thumbnail-button"
                aria-label=i18n.tr(Msg::ShowFullImage)
                on:click=move |_| open.set(true)
            >
                <img src=thumbnail width=width height=height alt=name.clone() loading="lazy" data-testid="attachment-image"/>
            </button>
            <Show when=move || open.get()>
                <div class="lightbox" role="dialog" aria-modal="true" data-testid="lightbox" on:click=move |_| open.set(false)>
                    <img src=url.clone() alt=name.clone() data-testid="full-image"/>
                    <button type="button" class="btn" on:click=move |_| open.set(false)>
                        {i18n.tr(Msg::CloseImage)}
                    </button>
                </div>
            </Show>
        </div>
    }
}

#[component]
fn FileCard(attachment: Attachment, url: String) -> impl IntoView {
    let i18n = use_i18n();
    view! {
        <div class="attachment file-card" data-testid="attachment-file">
            <span class="file-icon" aria-hidden="true">{label(&attachment.name)}</span>
            <span class="file-facts">
                <span class="file-name" data-testid="attachment-name">{attachment.name.clone()}</span>
                <span class="muted">
                    {size(attachment.size)} " · "
                    <a href=url download=attachment.name.clone() data-testid="attachment-download">
                        {i18n.tr(Msg::DownloadFile)}
                    </a>
                </span>
            </span>
        </div>
    }
}

/// The thumbnail's size on screen: the server's, at most 320 pixels a side.
fn thumbnail_size(width: Option<u32>, height: Option<u32>) -> (Option<u32>, Option<u32>) {
    match (width, height) {
        (Some(w), Some(h)) if w > 0 && h > 0 => {
            let scale = (320.0 / f64::from(w.max(h))).min(1.0);
            (Some((f64::from(w) * scale).round() as u32), Some((f64::from(h) * scale).round() as u32))
        }
        _ => (None, None),
    }
}

/// What the file's icon says: its extension ("PDF"), else "FILE".
fn label(name: &str) -> String {
    match name.rsplit_once('.') {
        Some((stem, ext)) if !stem.is_empty() && (1..=4).contains(&ext.chars().count()) => client::upper_case(ext),
        _ => "FILE".to_owned(),
    }
}

/// "532 B", "14.2 KB", "3.1 MB" (in integers: formatting a float would
/// bring the float formatter into the wasm).
fn size(bytes: u64) -> String {
    let (unit, name) = match bytes {
        0..1024 => return format!("{bytes} B"),
        1024..1_048_576 => (1024, "KB"),
        _ => (1_048_576, "MB"),
    };
    let tenths = (bytes * 10 + unit / 2) / unit;
    format!("{}.{} {name}", tenths / 10, tenths % 10)
}

/// "0:04", "12:30".
fn duration(ms: u64) -> String {
    let seconds = (ms + 500) / 1000;
    format!("{}:{:02}", seconds / 60, seconds % 60)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_and_lengths_read_naturally() {
        assert_eq!(size(532), "532 B");
        assert_eq!(size(14_540), "14.2 KB");
        assert_eq!(size(3_250_000), "3.1 MB");
        assert_eq!(duration(4_200), "0:04");
        assert_eq!(duration(750_000), "12:30");
        assert_eq!(thumbnail_size(Some(640), Some(480)), (Some(320), Some(240)));
        assert_eq!(thumbnail_size(Some(64), Some(48)), (Some(64), Some(48)));
        assert_eq!(thumbnail_size(None, Some(48)), (None, None));
        assert_eq!(label("报告.pdf"), "PDF");
        assert_eq!(label(".bashrc"), "FILE");
        assert_eq!(label("archive.tar.gz"), "GZ");
        assert_eq!(label("notes.markdown"), "FILE");
    }
}
