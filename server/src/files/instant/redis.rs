//! A cluster's instant-upload challenges in Redis, so the proof may reach
//! any node: each challenge is a key `<ns>:instant:{<user>}:<id>` holding its
//! JSON with the challenge's time to live, and each user's open ones a
//! sorted set `<ns>:instant:{<user>}` by time of issue, which caps them at
//! [`MAX_OPEN_PER_USER`] (the oldest go). The user is part of the key, so
//! another user's attempt finds nothing and uses nothing up; a take is one
//! script (`GET` and `DEL`), so a challenge answers exactly one attempt
//! whichever nodes the attempts reach.

use async_trait::async_trait;
use redis::Script;
use wire::{
    api::InstantChallenge,
    model::{MessageKind, UserId},
};

use super::{Challenge, Challenges, CHALLENGE_TTL, MAX_OPEN_PER_USER};
use crate::{
    clock::now_millis,
    redis_conn::{Backend, SharedConnection, Unavailable},
    store::files::BlobRecord,
};

/// KEYS: the challenge, the user's set. ARGV: the JSON, the time to live
/// (ms), now (ms), the id, the cap, the prefix of the user's challenges.
const ISSUE: &str = r#"
redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])
redis.call('ZREMRANGEBYSCORE', KEYS[2], '-inf', tonumber(ARGV[3]) - tonumber(ARGV[2]))
redis.call('ZADD', KEYS[2], ARGV[3], ARGV[4])
local over = redis.call('ZCARD', KEYS[2]) - tonumber(ARGV[5])
if over > 0 then
  local oldest = redis.call('ZPOPMIN', KEYS[2], over)
  for i = 1, #oldest, 2 do redis.call('DEL', ARGV[6] .. oldest[i]) end
end
redis.call('PEXPIRE', KEYS[2], ARGV[2])
return 0
"#;

/// KEYS: the challenge, the user's set. ARGV: the id.
const TAKE: &str = r#"
local found = redis.call('GET', KEYS[1])
if found then
  redis.call('DEL', KEYS[1])
  redis.call('ZREM', KEYS[2], ARGV[1])
end
return found
"#;

pub struct RedisChallenges {
    conn: SharedConnection,
    /// `<ns>:instant:`.
    prefix: String,
    issue: Script,
    take: Script,
}

impl RedisChallenges {
    pub fn new(backend: Backend, namespace: &str) -> RedisChallenges {
        RedisChallenges {
            conn: SharedConnection::new(backend),
            prefix: format!("{namespace}:instant:"),
            issue: Script::new(ISSUE),
            take: Script::new(TAKE),
        }
    }

    /// The user's set of open challenges; `+ ":" + id` names one of them. The
    /// user is the hash tag, so a script's keys share a slot on a Redis Cluster.
    fn user_key(&self, user: &UserId) -> String {
        format!("{}{{{}}}", self.prefix, user.0)
    }
}

#[async_trait]
impl Challenges for RedisChallenges {
    async fn issue(
        &self,
        user: UserId,
        blob: BlobRecord,
        name: String,
        kind: MessageKind,
    ) -> Result<Option<InstantChallenge>, Unavailable> {
        let user_key = self.user_key(&user);
        let (id, challenge) = Challenge::new(user, blob, name, kind);
        let json = serde_json::to_string(&challenge).map_err(|e| Unavailable(e.to_string()))?;
        let ttl = CHALLENGE_TTL.as_millis() as u64;
        let (challenge_key, own_prefix, member) = (format!("{user_key}:{id}"), format!("{user_key}:"), id.clone());
        self.conn
            .query(|mut c| async move {
                let mut invocation = self.issue.key(challenge_key);
                invocation.key(&user_key).arg(json).arg(ttl).arg(now_millis()).arg(member);
                invocation.arg(MAX_OPEN_PER_USER).arg(own_prefix).invoke_async::<i64>(&mut c).await
            })
            .await?;
        Ok(Some(challenge.asked(&id)))
    }

    async fn take(&self, id: &str, user: &UserId) -> Result<Option<Challenge>, Unavailable> {
        // An id is 32 hex digits: anything else names no key, and never a pattern or another's key.
        if id.len() != 32 || !id.bytes().all(|b| b.is_ascii_hexdigit()) {
            return Ok(None);
        }
        let user_key = self.user_key(user);
        let found: Option<String> = self
            .conn
            .query(|mut c| async move {
                self.take.key(format!("{user_key}:{id}")).key(&user_key).arg(id).invoke_async(&mut c).await
            })
            .await?;
        let Some(json) = found else { return Ok(None) };
        let challenge: Challenge = serde_json::from_str(&json).map_err(|e| Unavailable(e.to_string()))?;
        Ok((challenge.user == *user && challenge.expires_ms > now_millis()).then_some(challenge))
    }
}
