//! How fast the search index takes messages and answers queries: a
//! million messages of mixed Chinese and English made from a word list,
//! indexed as the follower does (per conversation, then committed); its
//! size on disk; and query latency, p50 and p99, for one-, two- and
//! four-character Chinese queries and English words, for a user in 100 of
//! the 1,000 conversations and for one in all of them. Prints figures;
//! run with `cargo bench -p natter-server --bench search` (`MESSAGES=n`
//! for another count).

mod made_up;

use std::{hint::black_box, time::Instant};

use made_up::Rng;
use natter_server::search::{
    index::{Doc, Filters, Op, SearchIndex},
    query,
};
use wire::{
    api::SearchOrder,
    model::{ConversationId, MessageKind, UserId},
};

const CONVERSATIONS: usize = 1_000;
const QUERIES: usize = 300;

/// Common words, most frequent first.
const CHINESE: &[&str] = &[
    "我们", "你们", "今天", "明天", "时候", "没有", "什么", "可以", "知道", "一下", "现在", "已经", "因为", "所以",
    "工作", "问题", "公司", "开会", "项目", "客户", "时间", "事情", "东西", "朋友", "上海", "北京", "深圳", "广州",
    "吃饭", "晚上", "早上", "周末", "下班", "加班", "电话", "微信", "文件", "报告", "数据", "系统", "服务", "价格",
    "市场", "股票", "止损", "健康", "医院", "学校", "老师", "孩子", "妈妈", "爸爸", "天气", "下雨", "出差", "机场",
    "高铁", "酒店", "会议", "方案", "合同", "发票", "快递", "地址", "手机", "电脑", "网络", "密码", "账号", "版本",
    "测试", "上线", "需求", "设计", "产品", "用户", "反馈", "优化", "性能", "安全", "备份", "服务器", "数据库",
    "没问题", "辛苦了", "谢谢你", "不客气", "好久不见", "一路平安", "生日快乐", "新年快乐", "注意安全",
    "马上就到", "明天见", "收到", "好的", "哈哈", "嗯嗯", "对不起", "没关系", "怎么样", "为什么", "多少钱",
];
const ENGLISH: &[&str] = &[
    "the", "meeting", "tomorrow", "today", "project", "deadline", "report", "please", "check", "thanks", "update",
    "release", "server", "database", "client", "review", "budget", "invoice", "contract", "design", "feature",
    "bug", "fix", "deploy", "schedule", "call", "email", "office", "lunch", "dinner", "weekend", "travel", "flight",
    "hotel", "price", "market", "stock", "health", "doctor", "school", "teacher", "weather", "rain", "coffee", "wechat",
    "phone", "laptop", "network", "password", "account", "version", "testing", "launch", "customer", "feedback",
    "performance", "security", "backup", "document", "presentation", "question", "answer", "morning", "evening",
];

fn message(rng: &mut Rng) -> String {
    let words = 3 + rng.below(14);
    let mut text = String::new();
    let chinese = rng.below(3) > 0;
    for i in 0..words {
        if rng.below(4) == 0 || !chinese {
            if i > 0 {
                text.push(' ');
            }
            text.push_str(ENGLISH[rng.skewed(ENGLISH.len())]);
            text.push(' ');
        } else {
            text.push_str(CHINESE[rng.skewed(CHINESE.len())]);
        }
        if rng.below(8) == 0 {
            text.push_str(if chinese { "，" } else { ", " });
        }
    }
    if rng.below(10) == 0 {
        text.push_str(&format!(" {}", rng.below(100_000)));
    }
    text
}

fn percentile(sorted: &[f64], p: f64) -> f64 {
    sorted[((sorted.len() - 1) as f64 * p).round() as usize]
}

fn main() {
    let messages: usize = std::env::var("MESSAGES").ok().and_then(|n| n.parse().ok()).unwrap_or(1_000_000);
    let dir = tempfile::tempdir().unwrap();
    let (index, _) = SearchIndex::open(&dir.path().join("search")).unwrap();
    let conversations: Vec<ConversationId> = (0..CONVERSATIONS).map(|c| ConversationId(format!("c-{c:05}"))).collect();

    let mut rng = Rng(0x2545_f491_4f6c_dd1d);
    let texts: Vec<String> = (0..messages).map(|_| message(&mut rng)).collect();
    let bytes: usize = texts.iter().map(String::len).sum();
    let started = Instant::now();
    // As the follower reads them: a page of a conversation at a time.
    let per_conversation = messages / CONVERSATIONS;
    for (c, conversation) in conversations.iter().enumerate() {
        for page in 0..per_conversation.div_ceil(100) {
            let seqs = page * 100 + 1..=((page + 1) * 100).min(per_conversation);
            let last = *seqs.end() as u64;
            let ops = seqs
                .map(|seq| {
                    Op::Add(Doc {
                        conversation_id: conversation.clone(),
                        seq: seq as u64,
                        sender_id: UserId(format!("u{}", (c + seq) % 50)),
                        kind: MessageKind::Text,
                        created_ms: 1_700_000_000_000 + (seq * CONVERSATIONS + c) as i64,
                        text: texts[c * per_conversation + seq - 1].clone(),
                        file_name: None,
                    })
                })
                .collect();
            index.apply(conversation, ops, last).unwrap();
        }
        if (c + 1) % 100 == 0 {
            index.commit().unwrap();
        }
    }
    index.commit().unwrap();
    let secs = started.elapsed().as_secs_f64();
    let size = index.bytes();
    println!("indexed {} messages ({:.0} MB of text) in {secs:.1} s: {:.0} messages/s", index.len(), bytes as f64 / 1e6, index.len() as f64 / secs);
    println!("index size: {:.0} MB ({:.0} bytes per message)", size as f64 / 1e6, size as f64 / index.len() as f64);

    let singles: Vec<String> = CHINESE.iter().flat_map(|w| w.chars()).map(String::from).collect();
    let pairs: Vec<String> = CHINESE.iter().filter(|w| w.chars().count() == 2).map(|w| w.to_string()).collect();
    let fours: Vec<String> = CHINESE.iter().filter(|w| w.chars().count() == 4).map(|w| w.to_string()).collect();
    let english: Vec<String> = ENGLISH.iter().map(|w| w.to_string()).collect();
    let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
    for member_of in [100, CONVERSATIONS] {
        let mine: Vec<ConversationId> = conversations.iter().step_by(CONVERSATIONS / member_of).cloned().collect();
        println!("a user in {} conversations ({} messages):", mine.len(), mine.len() * per_conversation);
        for (name, list) in
            [("1 Chinese character", &singles), ("2 Chinese characters", &pairs), ("4 Chinese characters", &fours), ("English word", &english)]
        {
            let mut times = Vec::with_capacity(QUERIES);
            let mut hits = 0;
            for _ in 0..QUERIES {
                let q = &list[rng.below(list.len())];
                let started = Instant::now();
                let parsed = query::parse(q);
                let filters = Filters { conversations: &mine, from: None, kind: None, after: None, before: None };
                let found = index.search(query::build(&parsed, index.body_field()), &filters, SearchOrder::Relevance, 0, 21);
                hits += black_box(found.unwrap()).len();
                times.push(started.elapsed().as_secs_f64() * 1e3);
            }
            times.sort_by(f64::total_cmp);
            println!(
                "  {name:<22} p50 {:>7.2} ms  p99 {:>7.2} ms  ({:.1} hits a query)",
                percentile(&times, 0.5),
                percentile(&times, 0.99),
                hits as f64 / QUERIES as f64
            );
        }
    }
}
