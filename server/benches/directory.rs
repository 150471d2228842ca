//! How fast the people directory answers on the embedded store: 100,000
//! users (`USERS=n` for another count) with nicknames made from common
//! Chinese surnames and given-name characters (one in four written in
//! traditional characters) and English first names, then query latency,
//! p50 and p99, of `UserRepo::search_users` (a scan of the folded keys,
//! ranked, top 21) for one and two Chinese characters, a nickname's
//! traditional form, a pinyin prefix, an English part and a query that
//! matches nobody. Prints figures; run with
//! `cargo bench -p natter-server --bench directory`.

mod made_up;

use std::time::Instant;

use natter_server::{
    store::{embedded::EmbeddedStore, users::{UserRecord, UserRepo}, EMBEDDED_FILE},
    text::search_fold::KeyQuery,
};
use made_up::Rng;
use wire::model::{Gender, UserId};

const QUERIES: usize = 200;

const SURNAMES: &[&str] = &[
    "王", "李", "张", "刘", "陈", "杨", "黄", "赵", "吴", "周", "徐", "孙", "马", "朱", "胡", "郭", "何", "高", "林", "罗",
    "郑", "梁", "谢", "宋", "唐", "许", "韩", "冯", "邓", "曹",
];
const GIVEN: &[&str] = &[
    "伟", "芳", "娜", "敏", "静", "丽", "强", "磊", "军", "洋", "勇", "艳", "杰", "娟", "涛", "明", "超", "秀", "霞", "平",
    "刚", "桂", "英", "华", "玉", "萍", "红", "丹", "飞", "鑫", "龙", "三", "丰", "晓", "东", "海", "云", "雪", "春", "国",
];
const ENGLISH: &[&str] = &[
    "Ada", "Alan", "Alice", "Bob", "Carol", "David", "Emma", "Frank", "Grace", "Henry", "Irene", "Jack", "Kevin", "Linda",
    "Mike", "Nancy", "Oscar", "Peter", "Rose", "Sam", "Tom", "Vera", "Will", "Zoe",
];

fn nickname(rng: &mut Rng, n: usize) -> String {
    if rng.next() % 5 == 0 {
        return format!("{} {}", rng.pick(ENGLISH), n % 1000);
    }
    let mut name = rng.pick(SURNAMES).to_owned();
    for _ in 0..1 + rng.next() % 2 {
        name.push_str(rng.pick(GIVEN));
    }
    if rng.next() % 4 == 0 {
        name = name.replace('张', "張").replace('龙', "龍").replace('东', "東").replace('国', "國").replace('华', "華");
    }
    name
}

fn percentile(sorted: &[f64], p: f64) -> f64 {
    sorted[((sorted.len() - 1) as f64 * p).round() as usize]
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    let users: usize = std::env::var("USERS").ok().and_then(|n| n.parse().ok()).unwrap_or(100_000);
    let dir = tempfile::tempdir().unwrap();
    let store = EmbeddedStore::open(&dir.path().join(EMBEDDED_FILE)).unwrap();
    let mut rng = Rng(0x2545_f491_4f6c_dd1d);
    let started = Instant::now();
    for n in 0..users {
        let user = UserRecord {
            id: UserId(format!("u{n:07}")),
            email: format!("u{n}@example.org"),
            nickname: nickname(&mut rng, n),
            password_hash: String::new(),
            gender: Gender::default(),
            avatar: None,
            created_ms: n as i64,
            last_login_ms: None,
            login_count: 0,
        };
        store.insert_user(&user).await.unwrap();
    }
    println!("stored {users} users in {:.1} s", started.elapsed().as_secs_f64());

    let sorts: &[(&str, &[&str])] = &[
        ("1 Chinese character", &["伟", "丰", "明", "海", "龙"]),
        ("2 Chinese characters", &["三丰", "晓东", "国华", "李明", "云海"]),
        ("traditional form", &["張三", "東海", "國華", "龍"]),
        ("pinyin prefix", &["zhang", "liwei", "wangf", "chen"]),
        ("English part", &["ali", "ENN", "grace"]),
        ("nobody", &["没有这个人", "xyzzy"]),
    ];
    for (sort, queries) in sorts {
        let mut times = Vec::with_capacity(QUERIES);
        let mut found = 0;
        for i in 0..QUERIES {
            let query = KeyQuery::new(queries[i % queries.len()]).unwrap();
            let started = Instant::now();
            found += store.search_users(&query, 21).await.unwrap().len();
            times.push(started.elapsed().as_secs_f64() * 1e3);
        }
        times.sort_by(f64::total_cmp);
        println!(
            "{sort}: p50 {:.2} ms, p99 {:.2} ms ({:.1} found a query)",
            percentile(&times, 0.5),
            percentile(&times, 0.99),
            found as f64 / QUERIES as f64
        );
    }
}
