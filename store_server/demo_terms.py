"""The demo shop's loyalty programme terms (the `terms` setting `init --demo` writes), in every kiosk language:
what a customer reads on the kiosk before accepting. A real shop writes its own (`settings set terms ...`)."""

DEMO_TERMS = {
    "en": "1. The programme is run by the shop. Joining is free.\n\n"
          "2. You earn bonuses on purchases with your card, as the shop's current rules say. Bonuses are not money "
          "and cannot be exchanged for money.\n\n"
          "3. You pay with bonuses at the till with a code sent to your phone.\n\n"
          "4. The shop keeps your phone number, your answers and your purchases with the card to run the "
          "programme. Offers by SMS are sent only if you agree; reply STOP to any message to stop them.\n\n"
          "5. You may leave at any time: ask at the till, and your data will be erased.",
    "uk": "1. Програму проводить магазин. Участь безкоштовна.\n\n"
          "2. За покупки з карткою нараховуються бонуси за чинними правилами магазину. Бонуси не є грошима й "
          "не обмінюються на гроші.\n\n"
          "3. Оплата бонусами на касі — з кодом, надісланим на ваш телефон.\n\n"
          "4. Магазин зберігає ваш номер телефону, відповіді та покупки з карткою, щоб вести програму. "
          "Пропозиції SMS надсилаються лише за вашою згодою; щоб їх припинити, надішліть STOP у відповідь.\n\n"
          "5. Вийти з програми можна будь-коли: зверніться на касу, і ваші дані буде видалено.",
    "ru": "1. Программу проводит магазин. Участие бесплатное.\n\n"
          "2. За покупки с картой начисляются бонусы по действующим правилам магазина. Бонусы не являются "
          "деньгами и не обмениваются на деньги.\n\n"
          "3. Оплата бонусами на кассе — с кодом, отправленным на ваш телефон.\n\n"
          "4. Магазин хранит ваш номер телефона, ответы и покупки по карте, чтобы вести программу. Предложения "
          "по SMS отправляются только с вашего согласия; чтобы их прекратить, ответьте STOP.\n\n"
          "5. Выйти из программы можно в любое время: обратитесь на кассу, и ваши данные будут удалены.",
    "kk": "1. Бағдарламаны дүкен жүргізеді. Қатысу тегін.\n\n"
          "2. Картамен жасалған сатып алуларға дүкеннің қолданыстағы ережелері бойынша бонустар беріледі. "
          "Бонустар ақша емес және ақшаға айырбасталмайды.\n\n"
          "3. Кассада бонустармен төлеу телефоныңызға жіберілген кодпен жасалады.\n\n"
          "4. Бағдарламаны жүргізу үшін дүкен телефон нөміріңізді, жауаптарыңызды және картамен жасалған "
          "сатып алуларды сақтайды. SMS ұсыныстары тек келісіміңізбен жіберіледі; тоқтату үшін STOP деп "
          "жауап беріңіз.\n\n"
          "5. Бағдарламадан кез келген уақытта шығуға болады: кассаға хабарласыңыз, деректеріңіз жойылады.",
    "vi": "1. Chương trình do cửa hàng tổ chức. Tham gia miễn phí.\n\n"
          "2. Bạn được tích điểm thưởng khi mua hàng bằng thẻ, theo quy định hiện hành của cửa hàng. Điểm thưởng "
          "không phải là tiền và không đổi được thành tiền.\n\n"
          "3. Thanh toán bằng điểm thưởng tại quầy cần mã được gửi đến điện thoại của bạn.\n\n"
          "4. Cửa hàng lưu số điện thoại, câu trả lời và các lần mua hàng bằng thẻ của bạn để vận hành chương "
          "trình. Tin nhắn ưu đãi chỉ được gửi khi bạn đồng ý; trả lời STOP để ngừng nhận.\n\n"
          "5. Bạn có thể rời chương trình bất cứ lúc nào: hãy hỏi tại quầy, dữ liệu của bạn sẽ được xóa.",
}
