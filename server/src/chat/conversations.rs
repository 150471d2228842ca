//! Conversations change: created, joined, invited to, left, renamed. Each
//! change of membership or settings is published to the hubs, so open
//! websockets start or stop receiving the conversation at once.

use wire::{
    api::{check_description, check_group_name, CreateGroup, UpdateConversation},
    model::{Conversation, ConversationId, ConversationKind, JoinPolicy, Role, UserId, Visibility},
    protocol::ApiError,
};

use super::{contacts::Reach, Chat, ChatError, NO_SUCH_USER};
use crate::{
    clock::now_millis,
    hub::HubEvent,
    ratelimit::budgets::Action,
    store::{
        conversations::{ConversationPatch, Membership},
        new_id, StoreError,
    },
};

/// Most members a group may be created with.
const MAX_INITIAL_MEMBERS: usize = 200;

const NO_SUCH_CONVERSATION: ChatError = ChatError::NotFound("no such conversation");

impl Chat {
    pub async fn conversation(&self, id: &ConversationId) -> Result<Conversation, ChatError> {
        self.store.conversation(id).await?.ok_or(NO_SUCH_CONVERSATION)
    }

    async fn add_member(&self, id: &ConversationId, user: &UserId, role: Role) -> Result<Membership, ChatError> {
        let member = Membership {
            conversation_id: id.clone(),
            user_id: user.clone(),
            role,
            read_seq: 0,
            read_shown: 0,
            delivered_seq: 0,
            mention_seq: 0,
            joined_ms: now_millis(),
        };
        self.store.put_member(&member).await?;
        self.fanout.publish(HubEvent::Joined { conversation_id: id.clone(), user_id: user.clone() }).await;
        Ok(member)
    }

    /// A group name by its input rule and the word list.
    fn group_name(&self, name: &str) -> Result<String, ApiError> {
        self.text.check_name(check_group_name(name)?, "name")
    }

    /// A group description by its input rule and the word list.
    fn description(&self, description: &str) -> Result<String, ApiError> {
        self.text.check_name(check_description(description)?, "description")
    }

    /// A new group; its creator becomes its owner. Of the members named,
    /// the creator's friends are added, others who take invitations from
    /// the creator are invited, and the rest are left out.
    pub async fn create_group(&self, creator: &UserId, group: CreateGroup) -> Result<(Conversation, Membership), ChatError> {
        let name = self.group_name(&group.name)?;
        let description = self.description(&group.description)?;
        if group.members.len() > MAX_INITIAL_MEMBERS {
            return Err(ChatError::invalid("members", format!("at most {MAX_INITIAL_MEMBERS} members at first")));
        }
        self.spend(Action::CreateGroup, creator, "creating groups too often; wait a while").await?;
        let known = self.store.users_by_ids(&group.members).await?;
        if let Some(missing) = group.members.iter().find(|id| !known.iter().any(|u| &u.id == *id)) {
            return Err(ChatError::invalid("members", format!("no such user: {missing}")));
        }
        let now = now_millis();
        let conversation = Conversation {
            id: ConversationId(new_id()),
            kind: ConversationKind::Group,
            visibility: group.visibility,
            join_policy: group.join_policy,
            name,
            description,
            creator_id: creator.clone(),
            peer_id: None,
            created_ms: now,
            last_seq: 0,
            last_message: None,
            last_activity_ms: now,
        };
        self.store.insert_conversation(&conversation).await?;
        let owner = self.add_member(&conversation.id, creator, Role::Owner).await?;
        for user in known.iter().filter(|u| u.id != *creator) {
            match self.reach(creator, &user.id).await? {
                Reach::Direct => drop(self.add_member(&conversation.id, &user.id, Role::Member).await?),
                // Strangers asked within the creator's invitation budget; beyond it, left out.
                Reach::Ask if self.budgets.spend(Action::Invite, creator).await.is_ok() => {
                    self.put_invitation(&conversation.id, &user.id).await?
                }
                _ => {}
            }
        }
        Ok((conversation, owner))
    }

    /// The private chat of two users: one per pair; asking again finds the
    /// same one. Answers whether this call created it. Friends are both in
    /// it at once; a stranger is asked (invited) first, and one who takes
    /// nothing from strangers, or a block either way, refuses it. Starting a
    /// chat one was asked into accepts it.
    pub async fn start_private(&self, me: &UserId, peer: &UserId) -> Result<(bool, Conversation, Membership), ChatError> {
        if peer == me {
            return Err(ChatError::invalid("user_id", "a private chat needs someone else"));
        }
        self.store.user_by_id(peer).await?.ok_or(NO_SUCH_USER)?;
        let id = Conversation::private_id(me, peer);
        let reach = self.reach(me, peer).await?;
        let peer_in = self.membership(&id, peer).await?.is_some();
        if reach == Reach::Refused && !(peer_in && self.membership(&id, me).await?.is_some()) {
            return Err(ChatError::NotAccepting);
        }
        let now = now_millis();
        let conversation = Conversation {
            id: id.clone(),
            kind: ConversationKind::Private,
            visibility: Visibility::Hidden,
            join_policy: JoinPolicy::InviteOnly,
            name: String::new(),
            description: String::new(),
            creator_id: me.clone(),
            peer_id: Some(peer.clone()),
            created_ms: now,
            last_seq: 0,
            last_message: None,
            last_activity_ms: now,
        };
        let created = match self.store.insert_conversation(&conversation).await {
            Ok(()) => true,
            Err(StoreError::Conflict(_)) => false,
            Err(e) => return Err(e.into()),
        };
        // The asker belongs to it (also when an earlier attempt stopped
        // half-way); the peer too, or is asked.
        if self.membership(&id, me).await?.is_none() {
            self.add_member(&id, me, Role::Member).await?;
            self.store.remove_invitation(&id, me).await?;
        }
        match reach {
            _ if peer_in => {}
            Reach::Direct => drop(self.add_member(&id, peer, Role::Member).await?),
            _ if self.store.is_invited(&id, peer).await? => {}
            _ => {
                self.spend(Action::Invite, me, "inviting too often; wait a while").await?;
                self.put_invitation(&id, peer).await?;
            }
        }
        let stored = self.conversation(&id).await?;
        let mine = self.require_member(&id, me).await?;
        Ok((created, stored, mine))
    }

    /// Owners and admins of a group change its settings.
    pub async fn update(&self, me: &UserId, id: &ConversationId, req: UpdateConversation) -> Result<Conversation, ChatError> {
        let mine = self.require_member(id, me).await?;
        if self.conversation(id).await?.kind != ConversationKind::Group {
            return Err(ChatError::Forbidden("private chats have no settings"));
        }
        if mine.role < Role::Admin {
            return Err(ChatError::Forbidden("only the owner and admins may change the group"));
        }
        let patch = ConversationPatch {
            name: req.name.as_deref().map(|name| self.group_name(name)).transpose()?,
            description: req.description.as_deref().map(|d| self.description(d)).transpose()?,
            visibility: req.visibility,
            join_policy: req.join_policy,
        };
        let updated = self.store.update_conversation(id, &patch).await?.ok_or(NO_SUCH_CONVERSATION)?;
        self.fanout.publish(HubEvent::Updated { conversation_id: id.clone(), user_id: me.clone() }).await;
        Ok(updated)
    }

    /// Joins an open group, or an invite-only one the user was invited to.
    /// Joining again is no change.
    pub async fn join(&self, me: &UserId, id: &ConversationId) -> Result<(Conversation, Membership), ChatError> {
        let conversation = self.conversation(id).await?;
        if let Some(existing) = self.membership(id, me).await? {
            return Ok((conversation, existing));
        }
        let invited = self.store.is_invited(id, me).await?;
        let open = conversation.kind == ConversationKind::Group && conversation.join_policy == JoinPolicy::Open;
        if !open && !invited {
            if conversation.kind == ConversationKind::Private || conversation.visibility != Visibility::Public {
                return Err(NO_SUCH_CONVERSATION);
            }
            return Err(ChatError::Forbidden("this group is invite-only: ask a member to invite you"));
        }
        let member = self.add_member(id, me, Role::Member).await?;
        self.store.remove_invitation(id, me).await?;
        Ok((conversation, member))
    }

    /// Any member of a group may invite someone who takes invitations from
    /// them; the invited may then join.
    pub async fn invite(&self, me: &UserId, id: &ConversationId, user: &UserId) -> Result<(), ChatError> {
        self.require_member(id, me).await?;
        if self.conversation(id).await?.kind != ConversationKind::Group {
            return Err(ChatError::Forbidden("nobody can be added to a private chat"));
        }
        self.store.user_by_id(user).await?.ok_or(NO_SUCH_USER)?;
        if self.membership(id, user).await?.is_some() {
            return Err(ChatError::Conflict("this user is a member already"));
        }
        if self.reach(me, user).await? == Reach::Refused {
            return Err(ChatError::NotAccepting);
        }
        self.spend(Action::Invite, me, "inviting too often; wait a while").await?;
        self.put_invitation(id, user).await
    }

    async fn put_invitation(&self, id: &ConversationId, user: &UserId) -> Result<(), ChatError> {
        self.store.put_invitation(id, user, now_millis()).await?;
        self.fanout.publish(HubEvent::Invited { conversation_id: id.clone(), user_id: user.clone() }).await;
        Ok(())
    }

    /// Declines an invitation (to a group, or into someone's private chat).
    pub async fn decline(&self, me: &UserId, id: &ConversationId) -> Result<(), ChatError> {
        if !self.store.is_invited(id, me).await? {
            return Err(ChatError::NotFound("no such invitation"));
        }
        Ok(self.store.remove_invitation(id, me).await?)
    }

    /// The groups the user is invited to and may join, and the private chats
    /// others asked them into, newest invitation first.
    pub async fn invitations(&self, me: &UserId) -> Result<Vec<Conversation>, ChatError> {
        let ids = self.store.invitations_of(me).await?;
        let mut found = self.store.conversations_by_ids(&ids).await?;
        found.sort_by_key(|c| ids.iter().position(|id| *id == c.id));
        Ok(found.into_iter().map(Conversation::for_outsiders).collect())
    }

    /// Leaves a group. An owner who leaves hands it to the longest-standing
    /// member of the highest role.
    pub async fn leave(&self, me: &UserId, id: &ConversationId) -> Result<(), ChatError> {
        let mine = self.require_member(id, me).await?;
        if self.conversation(id).await?.kind == ConversationKind::Private {
            return Err(ChatError::Forbidden("a private chat cannot be left"));
        }
        self.store.remove_member(id, me).await?;
        if mine.role == Role::Owner {
            let rest = self.store.members_of(id).await?;
            if !rest.iter().any(|m| m.role == Role::Owner) {
                if let Some(heir) = rest.iter().max_by_key(|m| (m.role, std::cmp::Reverse(m.joined_ms))) {
                    self.store.put_member(&Membership { role: Role::Owner, ..heir.clone() }).await?;
                }
            }
        }
        self.fanout.publish(HubEvent::Left { conversation_id: id.clone(), user_id: me.clone() }).await;
        Ok(())
    }
}
