3window.YTD.tweets.part0 = [
  {
    "created_at": "Tue Mar 16 09:14:00 +0000 2010",
    "id": 1268733523215360007,
    "id_str": "1268733523215360007",
    "full_text": "@audaciousgloop I think it’s seperation from the customer. I’ve found in smaller organizations and groups it’s EASIER to care…",
    "truncated": false,
    "display_text_range": [
      0,
      126
    ],
    "entities": {
      "hashtags": [],
      "symbols": [],
      "urls": [],
      "user_mentions": [
        {
          "screen_name": "audaciousgloop",
          "name": "audaciousgloop",
          "id": 16420578,
          "id_str": "16420578",
          "indices": [
            0,
            15
          ]
        }
      ]
    },
    "in_reply_to_status_id": 1268730754974720002,
    "in_reply_to_status_id_str": "1268730754974720002",
    "in_reply_to_user_id": 16420578,
    "in_reply_to_user_id_str": "16420578",
    "in_reply_to_screen_name": "audaciousgloop",
    "user": {
      "id": 17730914,
      "id_str": "17730914",
      "name": "Rob",
      "screen_name": "nz_rob"
    },
    "is_quote_status": false,
    "retweet_count": 0,
    "favorite_count": 0,
    "favorited": false,
    "retweeted": false,
    "lang": "en"
  },
  {
    "created_at": "Tue Mar 16 09:15:00 +0000 2010",
    "id": 1268733774873600008,
    "id_str": "1268733774873600008",
    "full_text": "@audaciousgloop …Perception of safety (anonymity?) in numbers perhaps…",
    "truncated": false,
    "display_text_range": [
      0,
      70
    ],
    "entities": {
      "hashtags": [],
      "symbols": [],
      "urls": [],
      "user_mentions": [
        {
          "screen_name": "audaciousgloop",
          "name": "audaciousgloop",
          "id": 16420578,
          "id_str": "16420578",
          "indices": [
            0,
            15
          ]
        }
      ]
    },
    "in_reply_to_status_id": 1268733523215360007,
    "in_reply_to_status_id_str": "1268733523215360007",
    "in_reply_to_user_id": 17730914,
    "in_reply_to_user_id_str": "17730914",
    "in_reply_to_screen_name": "nz_rob",
    "user": {
      "id": 17730914,
      "id_str": "17730914",
      "name": "Rob",
      "screen_name": "nz_rob"
    },
    "is_quote_status": false,
    "retweet_count": 0,
    "favorite_count": 0,
    "favorited": false,
    "retweeted": false,
    "lang": "en"
  },
  {
    "created_at": "Tue Mar 16 09:18:00 +0000 2010",
    "id": 1268734529848320009,
    "id_str": "1268734529848320009",
    "full_text": "@nz_rob @Gripnostril or is it simply that the systems are under-designed? Or poorly designed?",
    "truncated": false,
    "display_text_range": [
      0,
      93
    ],
    "entities": {
      "hashtags": [],
      "symbols": [],
      "urls": [],
      "user_mentions": [
        {
          "screen_name": "nz_rob",
          "name": "Rob",
          "id": 17730914,
          "id_str": "17730914",
          "indices": [
            0,
            7
          ]
        },
        {
          "screen_name": "Gripnostril",
          "name": "Gripnostril",
          "id": 14590231,
          "id_str": "14590231",
          "indices": [
            8,
            20
          ]
        }
      ]
    },
    "in_reply_to_status_id": 1268732013265920004,
    "in_reply_to_status_id_str": "1268732013265920004",
    "in_reply_to_user_id": 17730914,
    "in_reply_to_user_id_str": "17730914",
    "in_reply_to_screen_name": "nz_rob",
    "user": {
      "id": 16420578,
      "id_str": "16420578",
      "name": "audaciousgloop",
      "screen_name": "audaciousgloop"
    },
    "is_quote_status": false,
    "retweet_count": 0,
    "favorite_count": 0,
    "favorited": false,
    "retweeted": false,
    "lang": "en"
  }
]